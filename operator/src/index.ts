// @retrace/operator: the aggregator and the Trace/ClusterTrace controller. The Trace types and
// their validation are @retrace/spec's.
export * from './aggregator/index.js';
export { AgentLinkServer, type AgentStream, type LinkHandler, type LinkTiming } from './server/agent-link-server.js';
export { Aggregator, type AggregatorOptions } from './server/aggregator.js';
export { AggregatorMetrics } from './server/aggregator-metrics.js';
export { queryHandlers } from './server/query-server.js';
export { aggregatorGrpcServer } from './server/grpc-server.js';
export { readTraceFile, traceSpecsFrom, specForNode, TraceFileError } from './server/trace-file.js';
export { syntheticTrace } from './aggregator/bench-sort.js';
export { KubeApi, apiStatus, apiMessage } from './controller/kube-api.js';
export { LeaderElector } from './controller/leader-election.js';
export { TraceController, type AggregatorPort } from './controller/controller.js';
export { ControlClient, ControlError, RemoteAggregator } from './controller/aggregator-client.js';
export { FINALIZER, aggregatorName, traceSpecOf } from './controller/trace-resource.js';
export { SEPARATE_REFUSED } from './server/aggregator-flags.js';
