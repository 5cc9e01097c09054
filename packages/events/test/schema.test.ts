// The JSON Schema describes every section and accepts the events we print.
import { eventJsonSchema, stringifyEvent, type Event, type JsonSchema } from '../src/index.js';

const SECTIONS = [
  'common',
  'kernel',
  'userspace',
  'skb-tracking',
  'skb-drop',
  'packet',
  'skb',
  'dev',
  'netns',
  'ct',
  'nft',
  'ovs',
  'startup',
  'tracking',
  'lost',
  'k8s',
  'journey',
  'ovs-detrace',
];

const schema = eventJsonSchema();
const defs = schema['$defs'] as Record<string, JsonSchema>;

/** Tiny validator for the subset the schema uses: type, properties, required, items, $ref, minimum. */
function errors(value: unknown, s: JsonSchema, path = '$'): string[] {
  const ref = s['$ref'];
  if (typeof ref === 'string') {
    const target = defs[ref.replace('#/$defs/', '')];
    return target ? errors(value, target, path) : [`${path}: unresolved ${ref}`];
  }
  const out: string[] = [];
  const type = s['type'];
  const isObj = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (type === 'object' && !isObj) return [`${path}: not an object`];
  if (type === 'array' && !Array.isArray(value)) return [`${path}: not an array`];
  if (type === 'integer' && !Number.isInteger(value)) return [`${path}: not an integer`];
  if (type === 'string' && typeof value !== 'string') return [`${path}: not a string`];
  if (type === 'boolean' && typeof value !== 'boolean') return [`${path}: not a boolean`];
  if (typeof s['minimum'] === 'number' && (value as number) < s['minimum']) out.push(`${path}: below minimum`);
  if (isObj) {
    const props = (s['properties'] ?? {}) as Record<string, JsonSchema>;
    for (const r of (s['required'] ?? []) as string[]) if (!(r in value)) out.push(`${path}: missing ${r}`);
    for (const [k, v] of Object.entries(value)) {
      const p = props[k];
      if (p) out.push(...errors(v, p, `${path}.${k}`));
    }
  }
  if (Array.isArray(value) && s['items'])
    value.forEach((v, i) => out.push(...errors(v, s['items'] as JsonSchema, `${path}[${i}]`)));
  return out;
}

test('a 2020-12 schema naming every section of Event', () => {
  expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
  expect(Object.keys(schema['properties'] as object)).toEqual(SECTIONS);
  for (const section of SECTIONS) {
    const ref = (schema['properties'] as Record<string, JsonSchema>)[section]?.['$ref'];
    expect(typeof ref === 'string' && defs[ref.replace('#/$defs/', '')]).toMatchObject({ type: 'object' });
  }
});

test('64-bit integers, bytes and lists are typed', () => {
  expect(defs['SkbTracking']).toMatchObject({
    properties: { orig_head: { type: 'integer', minimum: 0 } },
    required: ['orig_head', 'timestamp', 'skb'],
  });
  expect(defs['Packet']?.['properties']).toMatchObject({ data: { type: 'string', contentEncoding: 'base64' } });
  expect(defs['Kernel']?.['properties']).toMatchObject({ stack_trace: { type: 'array', items: { type: 'string' } } });
  expect(defs['Nft']?.['properties']).toMatchObject({ rule_handle: { type: 'integer' } });
});

test('accepts a full event as written to files, rejects a wrong type', () => {
  const ev: Event = {
    common: { timestamp: 18446744073709551615n, smp_id: 1, task: { pid: 1, tgid: 1, comm: 'c' } },
    kernel: { symbol: 's', probe_type: 'kprobe', stack_trace: ['a+0x1'] },
    'skb-tracking': { orig_head: 1n, timestamp: 2n, skb: 3n },
    tracking: { skb: { orig_head: 1n, timestamp: 2n, skb: 3n }, idx: 0 },
    packet: { len: 1, capture_len: 1, data: 'AA==' },
    netns: { cookie: 1n, inum: 2 },
    startup: {
      retis_version: '',
      retrace_version: '0.1.0',
      cmdline: 'x',
      clock_monotonic_offset: { sec: 1n, nsec: -2n },
    },
  };
  expect(errors(JSON.parse(stringifyEvent(ev)), schema)).toEqual([]);
  expect(errors({ common: { timestamp: 'soon' }, packet: { len: 1 } }, schema)).toEqual([
    '$.common.timestamp: not an integer',
    '$.packet: missing capture_len',
    '$.packet: missing data',
  ]);
});
