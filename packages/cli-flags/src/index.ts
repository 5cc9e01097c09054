// @retrace/cli-flags: the daemons' command lines (retrace-agent, retrace-operator,
// retrace-aggregator), one style over commander as the retrace CLI uses it.
export { FlagError, type Fail, type Flag, type FlagTable, type FlagValues } from './flag.js';
export {
  address,
  bool,
  choice,
  commaList,
  integer,
  port,
  repeated,
  splitHostPort,
  text,
  wholeNumber,
  type Range,
} from './kinds.js';
export { FlagParser, type ParseResult, type ProgramFlags } from './parser.js';
export { daemonFlags, usageFailure, USAGE_EXIT, type Daemon } from './daemon.js';
export { TLS_FLAGS } from './tls-flags.js';
