// Protobuf binary encoding of every retrace message (events and the gRPC protocol), by the code
// pbjs generated from proto/ (see proto-types.ts for how it is fitted to the event model).
// 64-bit integers are bigints, as in the rest of the event model; event bytes fields are base64
// strings (their JSON shape), protocol bytes stay binary.
import { messageFields, messageFile, SchemaError } from './descriptors.js';
import { ProtoDecodeError, ProtoReader, ProtoWriter } from './proto-wire.js';
import { messageType, protocolCarried } from './proto-types.js';

/** Encodes `value` as the protobuf message `name`. */
export function encodeMessage(name: string, value: object): Buffer {
  // Written into one scratch buffer, then copied out at its exact size (small results come
  // from Node's buffer pool): no growing, and no half-empty buffer kept per message. The
  // scratch holds nothing between calls (encoding is synchronous and calls no user code), so
  // sharing it is sharing a temporary, as Node's buffer pool is; decoding makes its reader.
  const w = scratch;
  w.pos = 0;
  w.states = null; // (what a throw half-way left)
  messageType(name).encode(value, w);
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  if (w.buf.length > SCRATCH_KEEP) scratch = new ProtoWriter(SCRATCH_BYTES); // after a huge one
  return out;
}
const SCRATCH_BYTES = 64 * 1024;
const SCRATCH_KEEP = 4 * 1024 * 1024;
let scratch = new ProtoWriter(SCRATCH_BYTES);

export interface DecodeOptions {
  /**
   * Message fields ('EventBatch.events') left encoded: their values are Uint8Array views of the
   * bytes decoded. (Messages of those fields' types are left encoded wherever they occur.)
   */
  raw?: ReadonlySet<string>;
}

// Schema facts, worked out once per message name or option set (they never change).
const rawTypesOf = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();
const base64Of = new Map<string, boolean>();

/**
 * Decodes the protobuf message `name`. Absent scalar fields get their proto3 defaults, so the
 * result has the shape of the generated interface. Malformed bytes throw ProtoDecodeError.
 */
export function decodeMessage<T>(name: string, bytes: Uint8Array, opts: DecodeOptions = {}): T {
  const type = messageType(name);
  const r = new ProtoReader(bytes, name);
  r.base64 = base64Of.get(name) ?? bytesAsBase64(name);
  r.rawTypes = opts.raw === undefined ? undefined : (rawTypesOf.get(opts.raw) ?? rawTypes(opts.raw));
  try {
    return type.decode(r) as T;
  } catch (e) {
    throw asDecodeError(name, r, e);
  }
}

/** What the runtime or the generated code threw, as a ProtoDecodeError (a bug's TypeError as it is). */
export function asDecodeError(name: string, r: ProtoReader, e: unknown): unknown {
  if (e instanceof ProtoDecodeError || e instanceof TypeError || !(e instanceof Error)) return e;
  const what = e instanceof RangeError ? `truncated: a length or value runs past the end (${e.message})` : e.message;
  return new ProtoDecodeError(name, `${what} at byte ${r.pos}`);
}

function rawTypes(paths: ReadonlySet<string>): ReadonlySet<string> {
  const types = new Set<string>();
  for (const path of paths) {
    const [message = '', field = ''] = path.split('.');
    const f = messageFields(message).find((s) => s.json === field);
    if (f?.message === undefined || !protocolCarried().has(f.message))
      throw new SchemaError(`${path} is not a message field of the protocol: it cannot be left encoded`);
    types.add(f.message);
  }
  rawTypesOf.set(paths, types);
  return types;
}

/**
 * Whether the bytes fields a decode of `name` meets are event bytes (base64 in the model) or the
 * protocol's (binary): the reader has one mode per decode, so no message may hold both.
 */
function bytesAsBase64(name: string): boolean {
  const kinds = new Set<string>();
  const seen = new Set<string>();
  const walk = (m: string): void => {
    if (seen.has(m)) return;
    seen.add(m);
    for (const f of messageFields(m))
      if (f.kind === 'bytes' || f.kind === 'raw') kinds.add(f.kind);
      else if (f.message !== undefined) walk(f.message);
  };
  walk(name);
  if (kinds.size > 1)
    throw new SchemaError(
      `${name} (${messageFile(name)}.proto) holds both event bytes (base64 in the model) and protocol bytes`,
    );
  const base64 = !kinds.has('raw');
  base64Of.set(name, base64);
  return base64;
}
