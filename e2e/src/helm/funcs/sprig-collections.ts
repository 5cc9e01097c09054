// Sprig's lists and dicts, and its default/empty/ternary/int.
import { deepCopy, isMap, kindOf, toStr, truth, type GoFunc, type GoMap } from '../values.js';
import { list, map, str } from './args.js';

/** sprig's merge (mergo without overwrite): keys missing in dst are filled from each src, deeply. */
function mergeInto(dst: GoMap, src: GoMap): void {
  for (const [k, v] of Object.entries(src)) {
    const cur = dst[k];
    if (isMap(cur) && isMap(v)) mergeInto(cur, v);
    else if (cur === undefined || cur === null) dst[k] = deepCopy(v);
  }
}

/** cast.ToInt as sprig's int uses it: numbers truncated, numeric strings parsed, anything else 0. */
function toInt(v: unknown): bigint {
  switch (kindOf(v)) {
    case 'int':
      return v as bigint;
    case 'float':
      return BigInt(Math.trunc(v as number));
    case 'bool':
      return v ? 1n : 0n;
    case 'string': {
      const s = (v as string).trim();
      return /^[+-]?\d+$/.test(s) ? BigInt(s) : /^[+-]?\d*\.\d+$/.test(s) ? BigInt(Math.trunc(Number(s))) : 0n;
    }
    default:
      return 0n;
  }
}

export const sprigCollections: Record<string, GoFunc> = {
  list: (...items) => items,
  append: (l, v) => [...list(l), v],
  concat: (...ls) => ls.flatMap((l) => list(l)),
  has: (needle, l) => list(l).some((e) => e === needle),
  without: (l, ...vs) => list(l).filter((e) => !vs.includes(e)),
  dict: (...kv) => {
    const out: GoMap = {};
    for (let i = 0; i < kv.length; i += 2) out[toStr(kv[i])] = i + 1 < kv.length ? kv[i + 1] : '';
    return out;
  },
  hasKey: (d, key) => Object.hasOwn(map(d) ?? {}, str(key)),
  get: (d, key) => {
    const m = map(d) ?? {};
    const k = str(key);
    return Object.hasOwn(m, k) ? m[k] : '';
  },
  set: (d, key, v) => {
    const m = map(d) ?? {};
    m[str(key)] = v;
    return m;
  },
  keys: (...ds) => ds.flatMap((d) => Object.keys(map(d) ?? {})),
  merge: (dst, ...srcs) => {
    const d = map(dst);
    if (!d) throw new Error('merge: destination is nil');
    for (const s of srcs) mergeInto(d, map(s) ?? {});
    return d;
  },
  default: (d, ...given) => (given.length === 0 || !truth(given[0]) ? d : given[0]),
  empty: (v) => !truth(v),
  ternary: (a, b, cond) => (cond === true ? a : b),
  coalesce: (...vs) => vs.find((v) => truth(v)),
  int: (v) => toInt(v),
  int64: (v) => toInt(v),
  float64: (v) => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) || 0 : Number(toInt(v))),
};
