// Fast JSON for events: one writer per message made once from the schema's fields (descriptors.ts),
// instead of JSON.stringify with a replacer (which calls back into JS for every key and needs a
// regular expression pass for 64-bit integers). Keys not in the schema (older retis sections)
// are written generically after the known ones.
import { ctUnderRetisKey } from './ct-retis-key.js';
import { messageFields, type FieldSpec } from './descriptors.js';

type Writer = (obj: Record<string, unknown>) => string;

/** A 64-bit integer as a bare JSON number (Number formatting is much faster where exact). */
export function integerJson(v: bigint): string {
  return v <= 9007199254740991n && v >= -9007199254740991n ? String(Number(v)) : v.toString();
}

/** Any JSON value, bigints as bare integers. */
export function genericJson(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return integerJson(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : genericJson(x))).join(',')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${genericJson(x)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      return 'null';
  }
}

const writers = new Map<string, Writer>();

function valueWriter(f: FieldSpec): (v: unknown) => string {
  const nested = f.kind === 'message' && f.message ? f.message : undefined;
  const one = (v: unknown): string => {
    if (nested && typeof v === 'object' && v !== null && !Array.isArray(v))
      return writerFor(nested)(v as Record<string, unknown>);
    return genericJson(v);
  };
  return f.repeated ? (v) => (Array.isArray(v) ? `[${v.map(one).join(',')}]` : genericJson(v)) : one;
}

function writerFor(message: string): Writer {
  let w = writers.get(message);
  if (w) return w;
  const fields = messageFields(message);
  const known = new Set(fields.map((f) => f.json));
  const parts = fields.map((f) => ({ key: f.json, prefix: `${JSON.stringify(f.json)}:`, write: valueWriter(f) }));
  w = (obj) => {
    let out = '';
    for (const p of parts) {
      const v = obj[p.key];
      if (v === undefined) continue;
      out += (out ? ',' : '') + p.prefix + p.write(v);
    }
    for (const k in obj) {
      if (known.has(k)) continue;
      const v = obj[k];
      if (v !== undefined) out += `${out ? ',' : ''}${JSON.stringify(k)}:${genericJson(v)}`;
    }
    return `{${out}}`;
  };
  writers.set(message, w);
  return w;
}

/** JSON text of an Event-shaped object (schema order first, then any other keys). */
export function writeEventJson(ev: object): string {
  return writerFor('Event')(ctUnderRetisKey(ev) as Record<string, unknown>);
}

/** JSON text of one message of the schema (e.g. 'Ct'), in schema order. */
export function writeMessageJson(message: string, obj: object): string {
  return writerFor(message)(obj as Record<string, unknown>);
}
