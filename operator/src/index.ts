// @retrace/operator: the Trace/ClusterTrace controller. The Trace types and their validation are
// @retrace/spec's; the aggregator it runs (or drives) is @retrace/aggregator.
export { KubeApi, apiStatus, apiMessage } from './controller/kube-api.js';
export { LeaderElector } from './controller/leader-election.js';
export { TraceController, type AggregatorPort } from './controller/controller.js';
export { ControlClient, ControlError, RemoteAggregator } from './controller/aggregator-client.js';
export { FINALIZER, aggregatorName, traceSpecOf } from './controller/trace-resource.js';
