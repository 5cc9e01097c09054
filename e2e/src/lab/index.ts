export { Netns, NETNS_PREFIX, listNetns, withNetns } from './netns.js';
export { run, tryRun, CommandError } from './exec.js';
export { waitFor } from './wait.js';
export { routedLab, type RoutedLab, type RoutedLabOptions } from './topology.js';
export { runRetrace, startCollect, retraceBin, type RunResult, type Collector } from './retrace-cli.js';
