// protobufjs's wire writer and reader, fitted to the event model: 64-bit integers are bigints (the
// runtime's are Long objects) and event bytes base64 text; the writer also copies short ASCII
// strings itself (most of an event's), and the reader can hand out bytes as they are (messages a
// decode leaves encoded). The generated code (gen/retrace-pb.cjs) drives these; the store and
// the agent's batches write with the writer, the aggregator's partial reads use the reader.
import protobuf from 'protobufjs/minimal.js';
import { messageType } from './proto-types.js';
import { putVarint64 } from './varint-write.js';

export class ProtoDecodeError extends Error {
  constructor(
    readonly message_: string,
    detail: string,
  ) {
    super(`malformed ${message_} message: ${detail}`);
    this.name = 'ProtoDecodeError';
  }
}

/** Scratch for moving 64-bit values between one bigint and two 32-bit halves. */
const halves = new DataView(new ArrayBuffer(8));

/** The runtime's writer as this module uses it (its typings say Long where we write bigint). */
interface RuntimeWriter {
  buf: Buffer;
  pos: number;
  states: number[] | null;
  uint32(value: number): this;
  uint64(value: { low: number; high: number } | number | string): this;
  raw(value: Uint8Array): this;
  bytes(value: Uint8Array): this;
  string(value: string): this;
  fork(): this;
  ldelim(): this;
}
const RuntimeWriter = protobuf.BufferWriter as unknown as new () => RuntimeWriter;

/**
 * Writes protobuf wire data into one growing buffer: buf[0, pos) is what was written (the
 * runtime's BufferWriter, which writes in place; the generated encoders call it).
 */
export class ProtoWriter extends RuntimeWriter {
  constructor(size = 256) {
    super();
    this.buf = Buffer.allocUnsafe(size);
  }
  override uint64(v: bigint | { low: number; high: number } | number | string): this {
    if (typeof v !== 'bigint') return super.uint64(v);
    // Two's complement halves through a DataView (for negatives too, protobuf's int64), written
    // as the runtime writes a Long's, without making one.
    halves.setBigUint64(0, v, true);
    const lo = halves.getUint32(0, true);
    const hi = halves.getUint32(4, true);
    if (hi === 0) return this.uint32(lo);
    this.ensure(10);
    this.pos = putVarint64(this.buf, this.pos, hi, lo);
    return this;
  }
  int64(v: bigint | number | string): this {
    return this.uint64(v);
  }
  /**
   * A string: short ASCII ones (symbols, names, ids: most of an event's) byte by byte, with
   * their one-byte length, where the runtime encodes UTF-8 and moves the bytes if the length
   * takes more than one byte.
   */
  override string(value: string): this {
    const n = value.length;
    if (n >= 0x80) return super.string(value);
    this.ensure(n + 1);
    const buf = this.buf;
    const at = this.pos;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return super.string(value); // nothing kept: pos is where it was
      buf[at + 1 + i] = c;
    }
    buf[at] = n;
    this.pos = at + 1 + n;
    return this;
  }
  /**
   * A bytes field; given as base64 (the event model's form), decoded straight into the buffer
   * (the runtime decodes it into a Buffer of its own first, a third of an event's encoding).
   */
  override bytes(value: Uint8Array | string): this {
    if (typeof value !== 'string') return super.bytes(value);
    const n = Buffer.byteLength(value, 'base64');
    const start = this.pos;
    this.uint32(n);
    this.ensure(n);
    if (this.buf.write(value, this.pos, n, 'base64') === n) {
      this.pos += n;
      return this;
    }
    // Not canonical base64 (stray characters): the length guessed was wrong.
    this.pos = start;
    return super.bytes(Buffer.from(value, 'base64'));
  }
  /** Makes room for n more bytes at pos. */
  ensure(n: number): void {
    (this as unknown as { _reserve(n: number): void })._reserve(n);
  }
  /** Starts a length-delimited body; returns where it starts (endLength writes its length). */
  beginLength(): number {
    this.fork();
    return this.pos;
  }
  /**
   * Ends the body begun at `start` (the innermost one begun and not ended): its length before it;
   * the body moves when that takes more than a byte.
   */
  endLength(start: number): void {
    void start; // the runtime keeps the bodies' starts itself
    this.ldelim();
  }
  /** Field `id` holding the message `name` (tag, length, fields): `value` may be its bytes already. */
  messageField(id: number, name: string, value: object): void {
    messageType(name)
      .encode(value, this.uint32((id << 3) | 2).fork())
      .ldelim();
  }
}

/** The runtime's reader as this module uses it. */
interface RuntimeReader {
  buf: Buffer;
  pos: number;
  len: number;
  uint32(): number;
  tag(): number;
  skipType(wireType: number): this;
  bytes(): unknown;
  string(): string;
  uint64(): unknown;
  int64(): unknown;
}
const RuntimeReader = protobuf.BufferReader as unknown as new (buf: Buffer) => RuntimeReader;
const NO_BYTES = Buffer.alloc(0);

/** Reads protobuf wire data (the runtime's BufferReader; bounds errors are its RangeErrors). */
export class ProtoReader extends RuntimeReader {
  /** Event bytes as base64 text (the model's form); protocol bytes stay binary. */
  base64 = true;
  /** Messages left encoded (their bytes, a view into buf) where they occur, by name. */
  rawTypes: ReadonlySet<string> | undefined = undefined;
  constructor(
    buf: Uint8Array = NO_BYTES,
    /** The message read, as fail() names it. */
    public msg = 'protobuf',
    start = 0,
    end = buf.length,
  ) {
    super(NO_BYTES);
    this.reset(buf, start, end);
  }
  fail(detail: string): never {
    throw new ProtoDecodeError(this.msg, `${detail} at byte ${this.pos}`);
  }
  /** A length prefix, checked to fit in what is left. */
  length(): number {
    const n = this.uint32();
    if (this.pos + n > this.len) this.fail(`length ${n} runs past the end`);
    return n;
  }
  /** Points the reader at other bytes: a hot loop can reuse one reader instead of making one each time. */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.len = end;
    return this;
  }
  /**
   * A 64-bit varint as a bigint. The runtime reads these into Long objects (two allocations
   * and a conversion per value, a third of the aggregator's sort-key read): this reads the two
   * 32-bit halves itself and makes one bigint of them.
   */
  override uint64(): bigint {
    this.readHalves();
    return halves.getBigUint64(0, true);
  }
  override int64(): bigint {
    this.readHalves();
    return halves.getBigInt64(0, true);
  }
  /** Reads a varint of up to 64 bits into `halves`. */
  private readHalves(): void {
    const buf = this.buf;
    const end = this.len;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0x80;
    // bits 0..27, then 28..31 with 32..34, then 35..63: 10 bytes at most
    for (let shift = 0; shift < 28 && b >= 0x80; shift += 7) {
      if (pos >= end) throw new RangeError(`index out of range: ${pos} + 1 > ${end}`);
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
    }
    if (b >= 0x80) {
      if (pos >= end) throw new RangeError(`index out of range: ${pos} + 1 > ${end}`);
      b = buf[pos++] as number;
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >> 4;
      for (let shift = 3; shift < 32 && b >= 0x80; shift += 7) {
        if (pos >= end) throw new RangeError(`index out of range: ${pos} + 1 > ${end}`);
        b = buf[pos++] as number;
        hi |= (b & 0x7f) << shift;
      }
      if (b >= 0x80) throw new Error('invalid varint encoding: longer than 10 bytes');
    }
    this.pos = pos;
    halves.setUint32(0, lo >>> 0, true);
    halves.setUint32(4, hi >>> 0, true);
  }
  /** A bytes field: base64 text in base64 mode, else a view into buf. */
  override bytes(): Buffer | string {
    const b = super.bytes() as Buffer;
    return this.base64 ? b.toString('base64') : b;
  }
  /** The next n bytes as they are (a view into buf). */
  take(n: number): Buffer {
    const end = this.pos + n;
    if (end > this.len) throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.len}`);
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }
}
