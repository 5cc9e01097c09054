// The kinds of flag the daemons take. Each checks its value as commander reads it and says what
// is wrong naming the flag (a FlagError), so that a bad value never reaches the program.
import { Option } from 'commander';
import { FlagError, type Flag } from './flag.js';

const stringOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const stringsOf = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);

interface TextOptions {
  /** The environment variable read when the flag is not given. */
  env?: string;
}
interface TextWithDefault extends TextOptions {
  default: string;
  /** How --help shows the default, when the value itself is not it (a host name, say). */
  shownDefault?: string;
}

/** A string, `--name ARG`; the last one given counts. */
export function text(arg: string, help: string, o?: TextOptions): Flag<string | undefined>;
export function text(arg: string, help: string, o: TextWithDefault): Flag<string>;
export function text(arg: string, help: string, o: TextOptions | TextWithDefault = {}): Flag<string | undefined> {
  return {
    option: (name) => {
      const option = new Option(`--${name} <${arg}>`, help);
      if (o.env) option.env(o.env);
      if ('default' in o) option.default(o.default, o.shownDefault);
      return option;
    },
    read: stringOf,
  };
}

/** A flag without a value: true when given. */
export function bool(help: string): Flag<boolean> {
  return { option: (name) => new Option(`--${name}`, help), read: (v) => v === true };
}

/** Bounds of a whole number, and why they are what they are. */
export interface Range {
  min?: number;
  max?: number;
  why?: string;
}

/** `v`, the value of `flag`, as a whole number within `range` (digits only: no sign, no suffix). */
export function wholeNumber(flag: string, v: string, { min = 0, max, why }: Range = {}): number {
  const n = Number(v);
  const top = max ?? Number.MAX_SAFE_INTEGER;
  if (/^\d+$/.test(v) && n >= min && n <= top) return n;
  const wanted =
    max !== undefined || (min > 0 && n > top)
      ? ` from ${min} to ${top}`
      : min > 0
        ? ` of at least ${min}`
        : n > top
          ? ` of at most ${top}`
          : '';
  throw new FlagError(`${flag} must be a whole number${wanted}${why ? ` (${why})` : ''}, got '${v}'`);
}

/** A whole number, `--name N`; undefined when not given (the program's default then applies). */
export function integer(arg: string, help: string, range: Range = {}): Flag<number | undefined> {
  return {
    option: (name) =>
      new Option(`--${name} <${arg}>`, help).argParser((v: string) => wholeNumber(`--${name}`, v, range)),
    read: (v) => (typeof v === 'number' ? v : undefined),
  };
}

/** A TCP port to listen on (0: any free one). */
export const port = (help: string): Flag<number | undefined> => integer('PORT', help, { max: 65535 });

/** Where a HOST:PORT points (brackets around an IPv6 host taken off). */
export function splitHostPort(flag: string, v: string, why?: string): { host: string; port: number } {
  const m = /^(\S+):(\d+)$/.exec(v);
  if (!m?.[1] || !m[2]) throw new FlagError(`${flag} must be HOST:PORT${why ? ` (${why})` : ''}, got '${v}'`);
  const p = Number(m[2]);
  if (p > 65535) throw new FlagError(`${flag} ${v}: the port must be from 0 to 65535`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: p };
}

/** HOST:PORT, checked; the value is the text as given. */
export function address(help: string, why?: string): Flag<string | undefined> {
  return {
    option: (name) =>
      new Option(`--${name} <HOST:PORT>`, help).argParser((v: string) => {
        splitHostPort(`--${name}`, v, why);
        return v;
      }),
    read: stringOf,
  };
}

/** `a`, `a or b`, `a, b or c`. */
const orList = (xs: readonly string[]): string =>
  xs.length < 2 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;

/** One of a few words. */
export function choice<C extends string>(
  arg: string,
  help: string,
  choices: readonly C[],
  why?: string,
): Flag<C | undefined> {
  const isChoice = (v: unknown): v is C => (choices as readonly unknown[]).includes(v);
  return {
    option: (name) => {
      const option = new Option(`--${name} <${arg}>`, help).argParser((v: string) => {
        if (isChoice(v)) return v;
        throw new FlagError(`--${name} takes ${orList(choices)}${why ? ` (${why})` : ''}, got '${v}'`);
      });
      option.argChoices = [...choices]; // shown by --help
      return option;
    },
    read: (v) => (isChoice(v) ? v : undefined),
  };
}

/** `--name a,b,c`: the non-empty items, trimmed; undefined when not given. */
export function commaList(arg: string, help: string): Flag<string[] | undefined> {
  return {
    option: (name) =>
      new Option(`--${name} <${arg}>`, help).argParser((v: string) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
    read: stringsOf,
  };
}

/** `--name X` given any number of times: every X, in order (none: empty). */
export function repeated(arg: string, help: string): Flag<string[]> {
  return {
    option: (name) =>
      new Option(`--${name} <${arg}>`, `${help} (repeatable)`).argParser((v: string, before: string[] | undefined) => [
        ...(before ?? []),
        v,
      ]),
    read: (v) => stringsOf(v) ?? [],
  };
}
