// A daemon's start: its flags read, or the process ends. Usage errors are said the same way by
// every daemon: the program, what was wrong, then where the flags are listed; exit status 2, as
// for any command-line mistake (1 is for a failure once running).
import { FlagError, type Fail, type FlagTable, type FlagValues } from './flag.js';
import { FlagParser, type ProgramFlags } from './parser.js';

export const USAGE_EXIT = 2;

/** A usage error of `program`: written to stderr, then the process exits with status 2. */
export function usageFailure(program: string): Fail {
  return (message) => {
    process.stderr.write(`${program}: ${message}\n(${program} --help lists every flag)\n`);
    process.exit(USAGE_EXIT);
  };
}

export interface Daemon<S extends FlagTable> {
  values: FlagValues<S>;
  /** For what the flags' own checks cannot see (flags that go together, files): a usage error. */
  fail: Fail;
}

/** The daemon's flags from `args`; --help prints the help and exits 0, a bad flag exits 2. */
export function daemonFlags<S extends FlagTable>(
  program: ProgramFlags<S>,
  args: readonly string[] = process.argv.slice(2),
): Daemon<S> {
  const fail = usageFailure(program.name);
  let r;
  try {
    r = new FlagParser(program).parse(args);
  } catch (e) {
    if (e instanceof FlagError) return fail(e.message);
    throw e;
  }
  if ('help' in r) {
    process.stdout.write(r.help);
    process.exit(0);
  }
  return { values: r.values, fail };
}
