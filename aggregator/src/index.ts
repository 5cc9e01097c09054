// @retrace/aggregator: events from every node's agent sorted into per-packet journeys, stored per
// trace, and served (query and control APIs); `retrace-aggregator` runs it alone, the operator
// runs it in its own process unless told of a separate one.
export * from './journeys/index.js';
export { AgentLinkServer, type AgentStream, type LinkHandler, type LinkTiming } from './server/agent-link-server.js';
export { Aggregator, type AggregatorOptions } from './server/aggregator.js';
export { AggregatorMetrics } from './server/aggregator-metrics.js';
export { queryHandlers } from './server/query-server.js';
export { aggregatorGrpcServer } from './server/grpc-server.js';
export { readTraceFile, traceSpecsFrom, specForNode, TraceFileError } from './server/trace-file.js';
export { AGGREGATOR_FLAGS, SEPARATE_REFUSED, type AggregatorFlagValues } from './server/aggregator-flags.js';
export { aggregatorServiceOptions } from './server/aggregator-options.js';
export { ListenError, startAggregatorService } from './server/aggregator-service.js';
