// A flag is defined once: how commander reads it and the type of its value. A program's flags
// are a table of them keyed by their long names, and the values it gets are typed from that table.
import type { Option } from 'commander';

export interface Flag<T> {
  /** The commander option for `--${name}`, with its help text and value check. */
  option(name: string): Option;
  /** What commander kept for the flag (undefined when it was not given), as the flag's type. */
  read(kept: unknown): T;
}

/** A program's flags by long name (without the dashes): `{ 'metrics-port': port('...') }`. */
export type FlagTable = Readonly<Record<string, Flag<unknown>>>;

/** The values of a table's flags, keyed as the table is. */
export type FlagValues<S extends FlagTable> = { readonly [K in keyof S]: S[K] extends Flag<infer T> ? T : never };

/** A command line the program cannot run with; the message names the flag and what it wants. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** Says a usage error and does not return (a daemon exits with status 2; a test throws). */
export type Fail = (message: string) => never;
