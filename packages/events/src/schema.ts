// JSON Schema (2020-12) of the events file format, derived from the schema's generated descriptor
// so it cannot drift from the types (`retrace schema`, and the first block of pcap-ng exports).
import { fileMessages, messageFields, type FieldSpec } from './descriptors.js';

export type JsonSchema = { [key: string]: JsonValue };
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const RANGES: Record<string, [number, number]> = {
  u32: [0, 4294967295],
  i32: [-2147483648, 2147483647],
};

function fieldSchema(f: FieldSpec): JsonSchema {
  let s: JsonSchema;
  switch (f.kind) {
    case 'u64':
      s = { type: 'integer', minimum: 0, description: 'unsigned 64-bit integer' };
      break;
    case 'i64':
      s = { type: 'integer', description: 'signed 64-bit integer' };
      break;
    case 'u32':
    case 'i32': {
      const [minimum, maximum] = RANGES[f.kind] ?? [0, 0];
      s = { type: 'integer', minimum, maximum };
      break;
    }
    case 'string':
      s = { type: 'string' };
      break;
    case 'bool':
      s = { type: 'boolean' };
      break;
    case 'bytes':
    case 'raw':
      s = { type: 'string', contentEncoding: 'base64' };
      break;
    case 'double':
      s = { type: 'number' };
      break;
    case 'message':
      s = { $ref: `#/$defs/${f.message ?? 'unknown'}` };
      break;
  }
  return f.repeated ? { type: 'array', items: s } : s;
}

function messageSchema(name: string): JsonSchema {
  const fields = messageFields(name);
  const properties: JsonSchema = {};
  for (const f of fields) properties[f.json] = fieldSchema(f);
  const required = fields.filter((f) => !f.optional && !f.repeated).map((f) => f.json);
  const s: JsonSchema = { type: 'object', properties };
  if (required.length > 0) s['required'] = required;
  return s;
}

/** The schema of one event (a line of an events file); sorted files hold arrays of these. */
export function eventJsonSchema(): JsonSchema {
  const $defs: JsonSchema = {};
  for (const name of fileMessages('event')) if (name !== 'Event') $defs[name] = messageSchema(name);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://retrace.dev/schemas/event.json',
    title: 'Event',
    description: 'One retrace/retis event: a JSON object of optional sections (kebab-case keys)',
    ...messageSchema('Event'),
    $defs,
  };
}
