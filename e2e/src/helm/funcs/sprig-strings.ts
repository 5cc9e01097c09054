// Sprig's string functions, with sprig's argument order (the string last, so they pipe).
import { toStr, type GoFunc } from '../values.js';
import { arity, int, list, str } from './args.js';
import { goQuote } from './go-printf.js';

/** Each line prefixed by n spaces (sprig's indent pads the first line too). */
function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + s.replaceAll('\n', `\n${pad}`);
}

function trunc(n: number, s: string): string {
  if (n < 0 && s.length + n > 0) return s.slice(s.length + n);
  if (n >= 0 && s.length > n) return s.slice(0, n);
  return s;
}

export const sprigStrings: Record<string, GoFunc> = {
  quote: (...args) =>
    args
      .filter((a) => a !== null && a !== undefined)
      .map((a) => goQuote(toStr(a)))
      .join(' '),
  squote: (...args) =>
    args
      .filter((a) => a !== null && a !== undefined)
      .map((a) => `'${toStr(a)}'`)
      .join(' '),
  trim: (...a) => (arity('trim', a, 1), str(a[0]).trim()),
  trimSuffix: (suffix, s) => {
    const x = str(s);
    const suf = str(suffix);
    return suf && x.endsWith(suf) ? x.slice(0, x.length - suf.length) : x;
  },
  trimPrefix: (prefix, s) => {
    const x = str(s);
    const pre = str(prefix);
    return pre && x.startsWith(pre) ? x.slice(pre.length) : x;
  },
  trunc: (n, s) => trunc(int(n), str(s)),
  lower: (...a) => (arity('lower', a, 1), str(a[0]).toLowerCase()),
  upper: (...a) => (arity('upper', a, 1), str(a[0]).toUpperCase()),
  replace: (old, repl, s) => str(s).replaceAll(str(old), str(repl)),
  contains: (substr, s) => str(s).includes(str(substr)),
  hasPrefix: (prefix, s) => str(s).startsWith(str(prefix)),
  hasSuffix: (suffix, s) => str(s).endsWith(str(suffix)),
  indent: (n, s) => indent(int(n), str(s)),
  nindent: (n, s) => `\n${indent(int(n), str(s))}`,
  splitList: (sep, s) => str(s).split(str(sep)),
  join: (sep, v) =>
    list(typeof v === 'string' ? [v] : v)
      .map(toStr)
      .join(str(sep)),
  toString: (v: unknown) => toStr(v),
};
