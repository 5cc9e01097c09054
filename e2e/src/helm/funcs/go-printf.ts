// fmt.Sprintf for the verbs charts use (%s %v %d %q %x %X %f %t %%), with Go's width, precision
// and flags, and Go's complaints for a wrong type (`%!d(float64=7443)`): a float64 from
// values.yaml printed with %d shows the same way in `helm template`.
import { formatFloat, kindOf, printValue, typeName } from '../values.js';

/** strconv.Quote: Go's double-quoted string with Go's escapes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const bad = (verb: string, v: unknown): string =>
  v === null || v === undefined ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${printValue(v, true)})`;

function formatOne(verb: string, v: unknown, prec: number | undefined, plus: boolean): string {
  const k = kindOf(v);
  switch (verb) {
    case 'v':
      return k === 'invalid' ? '<nil>' : printValue(v, true);
    case 's':
      if (k === 'string') return prec === undefined ? (v as string) : (v as string).slice(0, prec);
      if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
      return bad(verb, v);
    case 'q':
      return k === 'string' ? goQuote(v as string) : bad(verb, v);
    case 'd':
      return k === 'int' ? `${plus && (v as bigint) >= 0n ? '+' : ''}${String(v)}` : bad(verb, v);
    case 't':
      return k === 'bool' ? String(v) : bad(verb, v);
    case 'x':
    case 'X': {
      let s: string;
      if (k === 'int') s = (v as bigint).toString(16);
      else if (k === 'string') s = Buffer.from(v as string).toString('hex');
      else return bad(verb, v);
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'f':
    case 'F':
      return k === 'float'
        ? `${plus && (v as number) >= 0 ? '+' : ''}${(v as number).toFixed(prec ?? 6)}`
        : bad(verb, v);
    case 'g':
      return k === 'float' ? formatFloat(v as number) : bad(verb, v);
    default:
      return `%!${verb}(${typeName(v)}=${printValue(v, true)})`;
  }
}

export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  const re = /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = '', width, prec, verb = ''] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    let s = formatOne(verb, args[argi++], prec === undefined ? undefined : Number(prec), flags.includes('+'));
    const w = width === undefined ? 0 : Number(width);
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && /^[+-]?\d/.test(s)) {
        const sign = /^[+-]/.test(s) ? s.slice(0, 1) : '';
        s = sign + s.slice(sign.length).padStart(w - sign.length, '0');
      } else s = s.padStart(w);
    }
    out += s;
  }
  out += format.slice(last);
  if (argi < args.length)
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${typeName(a)}=${printValue(a, true)}`)
      .join(', ')})`;
  return out;
}
