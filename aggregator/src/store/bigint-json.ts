// The one JSON form of the store's documents that hold bigints (64-bit counters, sequence
// numbers): a bigint is written as {"$bigint": "<decimal>"}. Reading gives back a bigint where one
// was and a string where a string was, with no schema to tell them apart.
const TAG = '$bigint';

/** JSON of `value`, its bigints tagged. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, tagBigint, indent);
}

/** A value read from toJson's text, its bigints back. Throws SyntaxError for what is not JSON. */
export function fromJson(text: string): unknown {
  return JSON.parse(text, untagBigint) as unknown;
}

function tagBigint(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? { [TAG]: v.toString() } : v;
}

function untagBigint(_key: string, v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === TAG && typeof o[TAG] === 'string') return BigInt(o[TAG]);
  }
  return v;
}
