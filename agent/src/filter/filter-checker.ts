// The packet filter check @retrace/spec's validation leaves to whoever has libpcap: the agents
// (when a trace starts) and the CLI (before it creates one). Compiled exactly as a session will.
import type { FilterChecker } from '@retrace/spec';
import { compileFilter } from './packet-filter.js';

export const packetFilterChecker: FilterChecker = {
  check: (expression) => void compileFilter(expression),
};
