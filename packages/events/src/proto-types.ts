// The generated protobuf code (gen/retrace-pb.cjs: pbjs static code, fields named as the model
// names them), loaded and fitted to the event model once, when first used (a process that never
// encodes, the CLI reading a JSON file, does not pay for loading it):
// - a decoded message holds its proto3 defaults as its own properties (64-bit ones as 0n, event
//   bytes as ''), as the model's interfaces say, where pbjs's own classes inherit defaults
//   (Long ones) from their prototypes;
// - a message held by a field of the protocol (agent, query and control files) may be given as a
//   Uint8Array, written as it is (already encoded: agents encode each event once, the aggregator
//   forwards stored events without decoding them), and a decode may leave such messages encoded
//   (ProtoReader.rawTypes). An event's own sections are always objects: their code runs as
//   generated, without that check (a twentieth of an event's encoding).
import { createRequire } from 'node:module';
import { fileMessages, messageFields, type FieldSpec } from './descriptors.js';
import type { ProtoReader, ProtoWriter } from './proto-wire.js';
import type { ProtoFile } from './gen/descriptor.js';

export interface MessageType {
  encode(value: object, w: ProtoWriter, depth?: number): ProtoWriter;
  /** `length` given: a nested message of that many bytes at the reader's position. */
  decode(r: ProtoReader, length?: number, end?: number, depth?: number, target?: object): object;
}
interface Generated extends MessageType {
  new (): object;
  prototype: object;
}

const FILES: ProtoFile[] = ['event', 'agent', 'query', 'control'];
/** Where the generated code finds each message's constructor, encode and decode (once loaded). */
let generated: Record<string, Generated> | undefined;

const EMPTY = new Uint8Array(0);
function defaultOf(f: FieldSpec): unknown {
  switch (f.kind) {
    case 'u64':
    case 'i64':
      return 0n;
    case 'u32':
    case 'i32':
    case 'double':
      return 0;
    case 'bool':
      return false;
    case 'string':
    case 'bytes':
      return '';
    case 'raw':
      return EMPTY;
    case 'message':
      return undefined;
  }
}

/** The messages that fields of the protocol's files hold: the ones that may stay encoded. */
export function protocolCarried(): ReadonlySet<string> {
  if (carried === undefined) {
    carried = new Set();
    for (const file of FILES)
      if (file !== 'event')
        for (const m of fileMessages(file))
          for (const f of messageFields(m)) if (f.message !== undefined) carried.add(f.message);
  }
  return carried;
}
let carried: Set<string> | undefined;

function adapt(generated: Record<string, Generated>, name: string): void {
  const gen = generated[name];
  if (gen === undefined) throw new Error(`gen/retrace-pb.cjs has no message ${name}: run node proto/gen-ts.mjs`);
  const defaults: [string, unknown][] = [];
  for (const f of messageFields(name)) if (!f.optional) defaults.push([f.json, defaultOf(f)]);
  // The generated prototype keeps its oneof accessors (decode records which member it read
  // through them); its Long and null defaults go. A default stays behind, not enumerable, for a
  // field decode deletes (a zero sent explicitly by some other encoder).
  const proto = gen.prototype as Record<string, unknown>;
  for (const f of messageFields(name)) delete proto[f.json];
  for (const [key, value] of defaults)
    Object.defineProperty(proto, key, { value, writable: true, enumerable: false, configurable: true });
  // Own defaults, one assignment each: V8 gives every message of a type one shape (a loop over
  // the keys, or a spread, costs several times as much per message decoded). Made from the
  // descriptor's field names only.
  const body = defaults.map(([key], i) => `this[${JSON.stringify(key)}] = d[${i}];`).join(' ');
  const make = new Function('d', `return function ${name}() { ${body} };`)(defaults.map(([, v]) => v)) as Generated;
  make.prototype = proto;
  const { encode, decode } = gen;
  if (protocolCarried().has(name)) {
    make.encode = (value, w, depth) => (value instanceof Uint8Array ? w.raw(value) : encode(value, w, depth));
    make.decode = (r, length, end, depth, target) =>
      length !== undefined && r.rawTypes?.has(name) ? r.take(length) : decode(r, length, end, depth, target);
  } else {
    make.encode = encode;
    make.decode = decode;
  }
  generated[name] = make;
}

/** The generated code of message `name` (throws for an unknown one). */
export function messageType(name: string): MessageType {
  if (generated === undefined) {
    const root = createRequire(import.meta.url)('./gen/retrace-pb.cjs') as {
      retrace: { v1: Record<string, Generated> };
    };
    // Every type at once: the generated code finds nested types through `generated`.
    for (const file of FILES) for (const m of fileMessages(file)) adapt(root.retrace.v1, m);
    generated = root.retrace.v1;
  }
  const t = generated[name];
  if (t === undefined) throw new Error(`unknown protobuf message ${name}`);
  return t;
}
