export { Netns, NETNS_PREFIX, listNetns, withNetns } from './netns.js';
export { run, tryRun, CommandError } from './exec.js';
export { waitFor, waitForValue } from './wait.js';
export { routedLab, vxlanLab, type RoutedLab, type RoutedLabOptions, type VxlanLab } from './topology.js';
export {
  runRetrace,
  runKubectlRetrace,
  startCollect,
  retraceBin,
  type RunResult,
  type Collector,
} from './retrace-cli.js';
export { makeTestCerts, clientTlsArgs, type TestCerts } from './certs.js';
export { clusterLab, type ClusterLab, type LabNode, type LabPod, type ClusterLabSpec } from './cluster-lab.js';
export {
  startAggregator,
  startAgent,
  type Proc,
  type AggregatorProcOptions,
  type AgentProcOptions,
  startOperator,
  type OperatorProcOptions,
} from './cluster-procs.js';
export { ourProgramsLoaded } from './programs.js';
export { freePort } from './free-port.js';
export { clusterLabThroughApi } from './api-pods.js';
