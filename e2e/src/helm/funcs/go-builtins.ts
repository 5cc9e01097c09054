// text/template's own functions (and/or are in the evaluator, which short-circuits them).
import { isMap, kindOf, printValue, truth, typeName, type GoFunc } from '../values.js';
import { sprintf } from './go-printf.js';
import { str } from './args.js';

/** Kinds eq and lt compare; anything else is refused as Go refuses it. */
function basic(v: unknown): 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other' {
  const k = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' || k === 'invalid' ? k : 'other';
}

function eq(a: unknown, ...others: unknown[]): boolean {
  if (others.length === 0) throw new Error('missing argument for comparison');
  const k1 = basic(a);
  for (const b of others) {
    const k2 = basic(b);
    if (k1 !== k2) {
      // Go: comparing a nil to anything is false; other kind mismatches are errors.
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new Error('incompatible types for comparison');
      continue;
    }
    if (k1 === 'other') throw new Error(`non-comparable type ${printValue(a, true)}: ${typeName(a)}`);
    if (k1 === 'invalid' || a === b) return true;
  }
  return false;
}

function compare(a: unknown, b: unknown): number {
  const k = basic(a);
  if (k !== basic(b)) throw new Error('incompatible types for comparison');
  if (k === 'int' || k === 'float' || k === 'string')
    return (a as string | number | bigint) < (b as string | number | bigint) ? -1 : a === b ? 0 : 1;
  throw new Error('invalid type for comparison');
}

function len(v: unknown): bigint {
  const k = kindOf(v);
  if (k === 'string') return BigInt(Buffer.byteLength(v as string));
  if (k === 'slice') return BigInt((v as ArrayLike<unknown>).length);
  if (k === 'map') return BigInt(Object.keys(v as object).length);
  if (k === 'invalid') throw new Error('len of nil pointer');
  throw new Error(`len of type ${typeName(v)}`);
}

function index(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === null || cur === undefined) throw new Error('index of untyped nil');
    if (Array.isArray(cur)) {
      if (typeof k !== 'bigint') throw new Error(`cannot index slice/array with type ${typeName(k)}`);
      if (k < 0n || k >= BigInt(cur.length)) throw new Error(`index out of range: ${k}`);
      cur = cur[Number(k)];
    } else if (isMap(cur)) {
      if (typeof k !== 'string') throw new Error(`value has type ${typeName(k)}; should be string`);
      cur = Object.hasOwn(cur, k) ? cur[k] : undefined;
    } else throw new Error(`can't index item of type ${typeName(cur)}`);
  }
  return cur;
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function print(...args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a, true);
  });
  return out;
}

export const goBuiltins: Record<string, GoFunc> = {
  eq,
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  not: (a) => !truth(a),
  len,
  index,
  print,
  println: (...args) => `${args.map((a) => printValue(a, true)).join(' ')}\n`,
  printf: (format, ...args) => sprintf(str(format), args),
};
