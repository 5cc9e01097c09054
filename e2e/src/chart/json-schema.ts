// A JSON Schema (draft 7) validator for the keywords our manifest shapes (k8s-shapes.ts) and the
// CRDs' structural schemas use. A keyword it does not know is refused rather than ignored, so a
// schema never silently checks less than it says. (The chart's values.schema.json is checked by
// helm itself.)

export type Schema = boolean | { [keyword: string]: unknown };

export class SchemaKeywordError extends Error {
  constructor(keyword: string, at: string) {
    super(
      `schema keyword ${JSON.stringify(keyword)} at ${at || '/'} is not supported by this validator; use only: ${[...KNOWN].join(', ')}`,
    );
    this.name = 'SchemaKeywordError';
  }
}

const ANNOTATIONS = [
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'default',
  'examples',
  'definitions',
  '$defs',
  'format',
];
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'properties',
  'additionalProperties',
  'patternProperties',
  'required',
  'enum',
  'const',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  '$ref',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
]);

type Obj = { [k: string]: unknown };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(Number(v)) ? 'integer' : 'number';
  return typeof v;
}

const typeMatches = (v: unknown, t: string): boolean => {
  const j = jsonType(v);
  return j === t || (t === 'number' && j === 'integer');
};

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** Problems of `value` against `schema`, each as `/json/pointer: what is wrong`; empty when it fits. */
export function validate(schema: Schema, value: unknown, root: Schema = schema): string[] {
  const out: string[] = [];
  check(schema, value, '', root, out);
  return out;
}

function resolveRef(ref: string, root: Schema): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs (#/...) are supported: ${ref}`);
  let cur: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    cur = isObj(cur) ? cur[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (cur === undefined) throw new Error(`$ref ${ref} points at nothing`);
  }
  return cur as Schema;
}

function check(schema: Schema, v: unknown, at: string, root: Schema, out: string[]): void {
  if (schema === true) return;
  if (schema === false) {
    out.push(`${at || '/'}: not allowed`);
    return;
  }
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new SchemaKeywordError(k, at);
  const s = schema;
  const where = at || '/';
  if (typeof s['$ref'] === 'string') check(resolveRef(s['$ref'], root), v, at, root, out);

  if (s['type'] !== undefined) {
    const types = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
    if (!types.some((t) => typeMatches(v, t))) {
      out.push(`${where}: got ${jsonType(v)}, want ${types.join(' or ')}`);
      return;
    }
  }
  if (Array.isArray(s['enum']) && !s['enum'].some((e) => deepEqual(e, v)))
    out.push(`${where}: ${JSON.stringify(v)} is not one of ${s['enum'].map((e) => JSON.stringify(e)).join(', ')}`);
  if ('const' in s && !deepEqual(s['const'], v)) out.push(`${where}: must be ${JSON.stringify(s['const'])}`);

  if (typeof v === 'string') {
    if (typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(v))
      out.push(`${where}: ${JSON.stringify(v)} does not match pattern ${JSON.stringify(s['pattern'])}`);
    const len = [...v].length;
    if (typeof s['minLength'] === 'number' && len < s['minLength'])
      out.push(`${where}: shorter than ${s['minLength']} characters`);
    if (typeof s['maxLength'] === 'number' && len > s['maxLength'])
      out.push(`${where}: longer than ${s['maxLength']} characters`);
  }
  if (typeof v === 'number') {
    if (typeof s['minimum'] === 'number' && v < s['minimum']) out.push(`${where}: ${v} is less than ${s['minimum']}`);
    if (typeof s['maximum'] === 'number' && v > s['maximum'])
      out.push(`${where}: ${v} is greater than ${s['maximum']}`);
    if (typeof s['exclusiveMinimum'] === 'number' && v <= s['exclusiveMinimum'])
      out.push(`${where}: ${v} is not greater than ${s['exclusiveMinimum']}`);
    if (typeof s['exclusiveMaximum'] === 'number' && v >= s['exclusiveMaximum'])
      out.push(`${where}: ${v} is not less than ${s['exclusiveMaximum']}`);
  }
  if (Array.isArray(v)) {
    if (s['items'] !== undefined) v.forEach((e, i) => check(s['items'] as Schema, e, `${at}/${i}`, root, out));
    if (typeof s['minItems'] === 'number' && v.length < s['minItems'])
      out.push(`${where}: fewer than ${s['minItems']} items`);
    if (typeof s['maxItems'] === 'number' && v.length > s['maxItems'])
      out.push(`${where}: more than ${s['maxItems']} items`);
    if (s['uniqueItems'] === true && v.some((e, i) => v.findIndex((f) => deepEqual(e, f)) !== i))
      out.push(`${where}: items are not unique`);
  }
  if (isObj(v)) {
    const props = isObj(s['properties']) ? (s['properties'] as Record<string, Schema>) : {};
    const patterns = isObj(s['patternProperties'])
      ? Object.entries(s['patternProperties'] as Record<string, Schema>)
      : [];
    for (const r of Array.isArray(s['required']) ? (s['required'] as string[]) : [])
      if (!(r in v) || v[r] === undefined) out.push(`${where}: missing property ${JSON.stringify(r)}`);
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (typeof s['minProperties'] === 'number' && keys.length < s['minProperties'])
      out.push(`${where}: fewer than ${s['minProperties']} properties`);
    if (typeof s['maxProperties'] === 'number' && keys.length > s['maxProperties'])
      out.push(`${where}: more than ${s['maxProperties']} properties`);
    for (const k of keys) {
      const path = `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      let matched = false;
      if (k in props) {
        matched = true;
        check(props[k] as Schema, v[k], path, root, out);
      }
      for (const [p, ps] of patterns)
        if (new RegExp(p, 'u').test(k)) {
          matched = true;
          check(ps, v[k], path, root, out);
        }
      if (!matched && s['additionalProperties'] !== undefined) {
        if (s['additionalProperties'] === false)
          out.push(`${where}: additional property ${JSON.stringify(k)} is not allowed`);
        else check(s['additionalProperties'] as Schema, v[k], path, root, out);
      }
    }
  }
  const sub = (list: unknown): Schema[] => (Array.isArray(list) ? (list as Schema[]) : []);
  for (const a of sub(s['allOf'])) check(a, v, at, root, out);
  if (s['anyOf'] !== undefined && !sub(s['anyOf']).some((a) => validate(a, v, root).length === 0))
    out.push(`${where}: matches none of anyOf`);
  if (s['oneOf'] !== undefined) {
    const n = sub(s['oneOf']).filter((a) => validate(a, v, root).length === 0).length;
    if (n !== 1) out.push(`${where}: matches ${n} of oneOf, want exactly 1`);
  }
  if (s['not'] !== undefined && validate(s['not'] as Schema, v, root).length === 0)
    out.push(`${where}: must not match "not"`);
  if (s['if'] !== undefined) {
    const branch = validate(s['if'] as Schema, v, root).length === 0 ? s['then'] : s['else'];
    if (branch !== undefined) check(branch as Schema, v, at, root, out);
  }
}
