export { Netns, NETNS_PREFIX, listNetns, withNetns } from './netns.js';
export { run, tryRun, CommandError } from './exec.js';
export { waitFor } from './wait.js';
