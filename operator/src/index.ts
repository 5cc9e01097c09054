// @retrace/operator: the aggregator and the Trace/ClusterTrace controller.
export * from './aggregator/index.js';
export { AgentLinkServer, type AgentStream, type LinkHandler, type LinkTiming } from './server/agent-link-server.js';
export { Aggregator, type AggregatorOptions } from './server/aggregator.js';
export { AggregatorMetrics } from './server/aggregator-metrics.js';
export { queryHandlers } from './server/query-server.js';
export { aggregatorGrpcServer } from './server/grpc-server.js';
export { readTraceFile, traceSpecsFrom, specForNode, TraceFileError } from './server/trace-file.js';
export { syntheticTrace } from './aggregator/bench-sort.js';
export { KubeApi } from './controller/kube-api.js';
export { LeaderElector } from './controller/leader-election.js';
export { TraceController, type AggregatorPort } from './controller/controller.js';
export type { TraceResource } from './controller/trace-resource.js';
