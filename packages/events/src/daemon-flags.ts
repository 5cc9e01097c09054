// Flag errors of the daemons (retrace-agent, retrace-aggregator), said the same way: the program,
// what was wrong, then the usage; exit status 2, as for any command-line mistake.
export interface FlagHelpers {
  fail(msg: string): never;
  /** A whole-number flag's value (undefined when not given). */
  num(name: string, v: string | undefined): number | undefined;
}

export function flagHelpers(program: string, usage: string): FlagHelpers {
  const fail = (msg: string): never => {
    process.stderr.write(`${program}: ${msg}\n${usage}\n`);
    process.exit(2);
  };
  return {
    fail,
    num(name, v) {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) fail(`--${name} must be a whole number, got '${v}'`);
      return Number(v);
    },
  };
}
