// Protobuf binary encoding of every retrace message (events and the gRPC protocol), driven by the
// field tables generated from proto/. 64-bit integers are bigints, as in the rest of the event
// model; event bytes fields are base64 strings (their JSON shape), protocol bytes stay binary.
// A message field may be given already encoded (a Uint8Array): agents encode each event once,
// and the aggregator forwards stored events without decoding them.
import { FIELDS, type FieldSpec } from './gen/event.js';
import { AGENT_FIELDS } from './gen/protocol-agent.js';
import { QUERY_FIELDS } from './gen/protocol-query.js';
import { CONTROL_FIELDS } from './gen/protocol-control.js';

export class ProtoDecodeError extends Error {
  constructor(
    readonly message_: string,
    detail: string,
  ) {
    super(`malformed ${message_} message: ${detail}`);
    this.name = 'ProtoDecodeError';
  }
}

const TABLES: Record<string, FieldSpec[]> = { ...FIELDS, ...AGENT_FIELDS, ...QUERY_FIELDS, ...CONTROL_FIELDS };

interface CompiledField {
  spec: FieldSpec;
  tag: number;
  /** `Message.field`, as DecodeOptions.raw names it. */
  path: string;
  /** A message field's message. */
  sub: CompiledMessage | undefined;
}
interface CompiledMessage {
  name: string;
  fields: CompiledField[];
  /** Fields by number (an array: the hot lookup of every decode). */
  byNumber: (CompiledField | undefined)[];
  /** Writes the message's fields (made on first use by compileWriter). */
  write: MessageWriter | undefined;
}
type MessageWriter = (w: ProtoWriter, obj: Record<string, unknown>) => void;

const WIRE: Record<FieldSpec['kind'], number> = {
  u64: 0,
  i64: 0,
  u32: 0,
  i32: 0,
  bool: 0,
  string: 2,
  bytes: 2,
  raw: 2,
  message: 2,
  double: 1,
};

/** Scratch for moving 64-bit values between one bigint and two 32-bit numbers. */
const halves = new DataView(new ArrayBuffer(8));

const compiled = new Map<string, CompiledMessage>();
function messageOf(name: string): CompiledMessage {
  let m = compiled.get(name);
  if (m) return m;
  const specs = TABLES[name];
  if (!specs) throw new Error(`unknown protobuf message ${name}`);
  const fields: CompiledField[] = specs.map((spec) => ({
    spec,
    tag: (spec.id << 3) | WIRE[spec.kind],
    path: `${name}.${spec.json}`,
    sub: undefined,
  }));
  const byNumber: (CompiledField | undefined)[] = [];
  for (const f of fields) byNumber[f.spec.id] = f;
  m = { name, fields, byNumber, write: undefined };
  compiled.set(name, m); // before the sub-messages: a message may contain itself
  for (const f of fields) if (f.spec.kind === 'message') f.sub = messageOf(f.spec.message ?? '');
  return m;
}

/** Writes protobuf wire data into a growing buffer: buf[0, pos) is what was written. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(v: number): void {
    // v is a non-negative integer below 2^53
    this.ensure(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  varint64(v: bigint): void {
    if (v >= 0n && v <= 0x1fffffffffffffn) return this.varint(Number(v));
    // Two 32-bit halves through a DataView (two's complement for negatives, as protobuf has
    // it): no bigint is made, where shifting and masking made three.
    halves.setBigUint64(0, v, true);
    let lo = halves.getUint32(0, true);
    let hi = halves.getUint32(4, true);
    this.ensure(10);
    for (let i = 0; i < 4; i++) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // bits 28..34: the last 4 bits of lo and the first 3 of hi
    let b = lo | ((hi & 0x7) << 4);
    hi >>>= 3;
    while (hi > 0) {
      this.buf[this.pos++] = b | 0x80;
      b = hi & 0x7f;
      hi >>>= 7;
    }
    this.buf[this.pos++] = b;
  }
  /** A bytes field given in base64 (the event model's form), decoded straight into the buffer. */
  base64(s: string): void {
    const n = Buffer.byteLength(s, 'base64');
    const start = this.pos;
    this.varint(n);
    this.ensure(n);
    const wrote = this.buf.write(s, this.pos, n, 'base64');
    if (wrote === n) this.pos += wrote;
    else {
      // Not canonical base64 (stray characters): the length guessed was wrong.
      this.pos = start;
      this.bytes(Buffer.from(s, 'base64'));
    }
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  string(s: string): void {
    const len = s.length;
    if (len < 128) {
      // Short ASCII strings (symbols, names, ids) byte by byte: cheaper than measuring and
      // writing through Buffer's UTF-8 calls. The length prefix is one byte below 128.
      this.ensure(len + 1);
      const buf = this.buf;
      const at = this.pos;
      let p = at + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === len) {
        buf[at] = len;
        this.pos = p;
        return;
      }
    }
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  /** Bytes as they are (already encoded fields, say), without a length. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Field `id` holding the message `name` (tag, length, fields). */
  messageField(id: number, name: string, value: object): void {
    this.varint((id << 3) | 2);
    writeNested(this, messageOf(name), value);
  }
  /** Reserves room for a length prefix of up to 5 bytes; returns where the body starts. */
  beginLength(): number {
    this.ensure(5);
    this.pos += 5;
    return this.pos;
  }
  /** Writes the body's length before it, moving the body down over unused prefix bytes. */
  endLength(start: number): void {
    const len = this.pos - start;
    let n = 1;
    for (let v = len; v > 0x7f; v = Math.floor(v / 128)) n++;
    const at = start - 5;
    // (copyWithin, a builtin, costs a fraction of Buffer.copy's checks on these small bodies)
    if (n < 5) this.buf.copyWithin(at + n, start, this.pos);
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
    this.pos = at + n + len;
  }
}

/** A message's length and fields (or its bytes as given, when already encoded). */
function writeNested(w: ProtoWriter, m: CompiledMessage, v: object): void {
  if (v instanceof Uint8Array) return w.bytes(v);
  const start = w.beginLength();
  writeMessage(w, m, v as Record<string, unknown>);
  w.endLength(start);
}

function writeMessage(w: ProtoWriter, m: CompiledMessage, obj: Record<string, unknown>): void {
  (m.write ??= compileWriter(m))(w, obj);
}

/**
 * A message's writer, generated from its field table: one property read per field by its own
 * name, the default check and the value's encoding inlined for its kind. A loop over the table
 * reading `obj[spec.json]` cost most of an event's encoding (every read a lookup by a varying
 * key); this writes the same bytes as that loop would, field by field in table order.
 */
function compileWriter(m: CompiledMessage): MessageWriter {
  const lines: string[] = [];
  m.fields.forEach((c, i) => {
    const { spec, tag } = c;
    const value = (x: string): string => {
      switch (spec.kind) {
        case 'u64':
        case 'i64':
          return `w.varint64(typeof ${x} === 'bigint' ? ${x} : BigInt(${x}));`;
        case 'u32':
          return `w.varint(Number(${x}) >>> 0);`;
        case 'i32':
          return `{ const n = Number(${x}) | 0; if (n >= 0) w.varint(n); else w.varint64(BigInt(n)); }`;
        case 'bool':
          return `w.varint(${x} ? 1 : 0);`;
        case 'string':
          return `w.string(String(${x}));`;
        case 'bytes':
        case 'raw':
          return `if (typeof ${x} === 'string') w.base64(${x}); else w.bytes(${x});`;
        case 'double':
          return `w.double(Number(${x}));`;
        case 'message':
          return `writeNested(w, subs[${i}], ${x});`;
      }
    };
    const isDefault = spec.optional
      ? 'false'
      : {
          u64: 'v === 0n || v === 0',
          i64: 'v === 0n || v === 0',
          u32: 'v === 0',
          i32: 'v === 0',
          double: 'v === 0',
          bool: 'v === false',
          string: "v === ''",
          bytes: 'false',
          raw: 'false',
          message: 'false',
        }[spec.kind];
    lines.push(`v = o[${JSON.stringify(spec.json)}];`);
    if (spec.repeated)
      lines.push(`if (v !== undefined && v !== null) for (const x of v) { w.varint(${tag}); ${value('x')} }`);
    else lines.push(`if (v !== undefined && v !== null && !(${isDefault})) { w.varint(${tag}); ${value('v')} }`);
  });
  const subs = m.fields.map((c) => c.sub);
  // Source made from the generated field tables only.
  const make = new Function(
    'writeNested',
    'subs',
    `return function write${m.name}(w, o) {\n  let v;\n  ${lines.join('\n  ')}\n};`,
  );
  return make(writeNested, subs) as MessageWriter;
}

/** Encodes `value` as the protobuf message `name`. */
export function encodeMessage(name: string, value: object): Buffer {
  // Written into one scratch buffer, then copied out at its exact size (small results come
  // from Node's buffer pool): no growing, and no half-empty buffer kept per message.
  const w = scratch;
  w.pos = 0;
  writeMessage(w, messageOf(name), value as Record<string, unknown>);
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  if (w.buf.length > SCRATCH_KEEP) scratch = new ProtoWriter(SCRATCH_BYTES); // after a huge one
  return out;
}
const SCRATCH_BYTES = 64 * 1024;
const SCRATCH_KEEP = 4 * 1024 * 1024;
let scratch = new ProtoWriter(SCRATCH_BYTES);

export interface DecodeOptions {
  /** Message fields ('EventBatch.events') left encoded: their values are Uint8Array slices. */
  raw?: ReadonlySet<string>;
}

/** Reads protobuf wire data of one message (bounds-checked; errors are ProtoDecodeError). */
export class ProtoReader {
  pos: number;
  constructor(
    public buf: Uint8Array,
    readonly msg: string,
    start = 0,
    public end = buf.length,
  ) {
    this.pos = start;
  }
  /** Points the reader at other bytes: a hot loop can reuse one reader instead of making one each time. */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }
  fail(detail: string): never {
    throw new ProtoDecodeError(this.msg, `${detail} at byte ${this.pos}`);
  }
  /** A varint below 2^49 (tags, lengths, bools, small values); larger ones go through bigint. */
  varint(): number {
    const start = this.pos;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    this.pos = start;
    return Number(this.varint64());
  }
  varint64(): bigint {
    let lo = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      lo += (b & 0x7f) * mul;
      if (b < 0x80) return BigInt(lo);
      mul *= 128;
    }
    // Bits 49 and up (at most 3 more bytes) in a second number, then the two 32-bit halves
    // into one bigint through a DataView: one bigint made, where shifts and ors made five.
    let hi = 0;
    mul = 1;
    for (let i = 0; i < 3; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      hi += (b & 0x7f) * mul;
      if (b < 0x80) {
        halves.setUint32(0, lo % 0x100000000, true);
        halves.setUint32(4, (Math.floor(lo / 0x100000000) + hi * 0x20000) >>> 0, true);
        return halves.getBigUint64(0, true);
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }
  length(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) this.fail(`length ${n} runs past the end`);
    return n;
  }
  skip(wire: number): void {
    switch (wire) {
      case 0: {
        // Past the varint's bytes without computing its value.
        const last = Math.min(this.pos + 10, this.end);
        while (this.pos < last && (this.buf[this.pos] as number) >= 0x80) this.pos++;
        if (this.pos >= last) this.fail(this.pos >= this.end ? 'truncated varint' : 'varint longer than 10 bytes');
        this.pos++;
        return;
      }
      case 1:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2: {
        const n = this.length(); // (pos += length() would read pos before length() moves it)
        this.pos += n;
        return;
      }
      case 5:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }
}

function readValue(r: ProtoReader, c: CompiledField, wire: number, opts: DecodeOptions): unknown {
  const f = c.spec;
  if (wire !== WIRE[f.kind]) r.fail(`field ${f.json} has wire type ${wire}, expected ${WIRE[f.kind]}`);
  switch (f.kind) {
    case 'u64':
      return r.varint64();
    case 'i64':
      return BigInt.asIntN(64, r.varint64());
    case 'u32':
      return r.varint() >>> 0;
    case 'i32':
      return Number(BigInt.asIntN(32, r.varint64()));
    case 'bool':
      return r.varint() !== 0;
    case 'double': {
      if (r.pos + 8 > r.end) r.fail('truncated double');
      const v = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, 8).readDoubleLE(0);
      r.pos += 8;
      return v;
    }
    case 'string': {
      const n = r.length();
      const s = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, n).toString('utf8');
      r.pos += n;
      return s;
    }
    case 'bytes': {
      const n = r.length();
      const s = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, n).toString('base64');
      r.pos += n;
      return s;
    }
    case 'raw': {
      const n = r.length();
      const b = r.buf.subarray(r.pos, r.pos + n);
      r.pos += n;
      return b;
    }
    case 'message': {
      const n = r.length();
      const start = r.pos;
      r.pos += n;
      if (opts.raw?.has(c.path)) return r.buf.subarray(start, start + n);
      const sub = c.sub as CompiledMessage;
      return readMessage(new ProtoReader(r.buf, sub.name, start, start + n), sub, opts);
    }
  }
}

function readMessage(r: ProtoReader, m: CompiledMessage, opts: DecodeOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    const id = Math.floor(tag / 8);
    const wire = tag & 7;
    if (id === 0) r.fail('field number 0');
    const c = m.byNumber[id];
    if (!c) {
      r.skip(wire); // unknown fields (a newer peer's) are skipped, as protobuf requires
      continue;
    }
    const f = c.spec;
    const v = readValue(r, c, wire, opts);
    if (f.repeated) {
      const list = (out[f.json] as unknown[] | undefined) ?? (out[f.json] = []);
      (list as unknown[]).push(v);
    } else if (f.kind === 'message' && out[f.json] !== undefined && !(v instanceof Uint8Array)) {
      Object.assign(out[f.json] as object, v); // a repeated message field merges, per protobuf
    } else out[f.json] = v;
  }
  return out;
}

/**
 * Decodes the protobuf message `name`. Absent scalar fields get their proto3 defaults, so the
 * result has the shape of the generated interface.
 */
export function decodeMessage<T>(name: string, bytes: Uint8Array, opts: DecodeOptions = {}): T {
  const m = messageOf(name);
  const out = readMessage(new ProtoReader(bytes, name), m, opts);
  fillDefaults(m, out);
  return out as T;
}

function fillDefaults(m: CompiledMessage, out: Record<string, unknown>): void {
  for (const { spec, sub } of m.fields) {
    const v = out[spec.json];
    if (v !== undefined) {
      if (sub !== undefined && !(v instanceof Uint8Array)) {
        if (!spec.repeated) fillDefaults(sub, v as Record<string, unknown>);
        else
          for (const x of v as unknown[])
            if (!(x instanceof Uint8Array)) fillDefaults(sub, x as Record<string, unknown>);
      }
      continue;
    }
    if (spec.optional) continue;
    switch (spec.kind) {
      case 'u64':
      case 'i64':
        out[spec.json] = 0n;
        break;
      case 'u32':
      case 'i32':
      case 'double':
        out[spec.json] = 0;
        break;
      case 'bool':
        out[spec.json] = false;
        break;
      case 'string':
      case 'bytes':
        out[spec.json] = '';
        break;
      case 'raw':
        out[spec.json] = new Uint8Array(0);
        break;
    }
  }
}

/** The field number of `message.json` in the generated tables, for readers that scan bytes. */
export function fieldNumber(message: string, json: string): number {
  const f = messageOf(message).fields.find((c) => c.spec.json === json);
  if (!f) throw new Error(`protobuf message ${message} has no field ${json}`);
  return f.spec.id;
}

/**
 * Checks that `bytes` are a well-formed `name` message all the way down (tags, wire types,
 * lengths, nested messages) without building anything; throws ProtoDecodeError naming the
 * problem. For readers that decode only part of a message but must refuse malformed ones.
 */
export function checkMessage(name: string, bytes: Uint8Array, start = 0, end = bytes.length): void {
  const r = new ProtoReader(bytes, name, start, end);
  checkFields(r, messageOf(name), end);
}

/**
 * Checks one field of message `name` whose tag was just read, and moves past it, as checkMessage
 * does for each field: for readers that read some fields themselves and must check the rest.
 */
export function fieldChecker(name: string): (r: ProtoReader, tag: number) => void {
  const m = messageOf(name);
  return (r, tag) => checkField(r, m, tag);
}

// One reader for the whole walk (nested messages end at `end`, checked after each field).
function checkFields(r: ProtoReader, m: CompiledMessage, end: number): void {
  while (r.pos < end) {
    checkField(r, m, r.varint());
    if (r.pos > end) r.fail(`a field of ${m.name} runs past the end of the message`);
  }
}

function checkField(r: ProtoReader, m: CompiledMessage, tag: number): void {
  const id = Math.floor(tag / 8);
  const wire = tag & 7;
  if (id === 0) r.fail('field number 0');
  const c = m.byNumber[id];
  if (c === undefined) return r.skip(wire); // unknown (a newer peer's): skipped, as protobuf requires
  if (wire !== WIRE[c.spec.kind]) r.fail(`field ${c.spec.json} has wire type ${wire}, expected ${WIRE[c.spec.kind]}`);
  if (c.sub === undefined) return r.skip(wire);
  const inner = r.length() + r.pos;
  checkFields(r, c.sub, inner);
}
