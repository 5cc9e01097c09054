import { MapType } from './constants.js';
import { MapError, nativeCall } from './errors.js';
import type { BpfMap } from './map.js';
import { native, type NativeRingBuffer } from './native.js';

/**
 * Records delivered together: one JS call for many records, read in place from the ring's
 * memory (no copy). Valid only during the callback: the ring reuses the space as soon as the
 * callback returns. Decode what you need inside the callback, or keep `copy()`. The memory is
 * read-only: writing into a record crashes the process.
 */
export class RecordBatch {
  /** The ring's whole data area; records are at offset(i)..offset(i)+length(i). */
  readonly buffer: Buffer;
  /** DataView over `buffer` (the fastest way to read fields: view.getUint32(offset(i) + k, true)). */
  readonly view: DataView;
  readonly count: number;
  /** Offset and length of each record, in pairs (the first `count` pairs are this batch's). */
  readonly offsets: Uint32Array;

  constructor(buffer: Buffer, offsets: Uint32Array, count: number, view?: DataView) {
    this.buffer = buffer;
    this.offsets = offsets;
    this.count = count;
    this.view = view ?? new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** Byte offset of record i in `buffer` (8-byte aligned). */
  offset(i: number): number {
    return this.offsets[i * 2] ?? 0;
  }

  length(i: number): number {
    return this.offsets[i * 2 + 1] ?? 0;
  }

  /** A view of record i (no copy; same lifetime as the batch). */
  record(i: number): Buffer {
    const off = this.offset(i);
    return this.buffer.subarray(off, off + this.length(i));
  }

  *[Symbol.iterator](): Generator<Buffer> {
    for (let i = 0; i < this.count; i++) yield this.record(i);
  }

  /** A copy that outlives the callback. */
  copy(): RecordBatch {
    let total = 0;
    for (let i = 0; i < this.count; i++) total += (this.length(i) + 7) & ~7;
    const buf = Buffer.alloc(total);
    const offs = new Uint32Array(this.count * 2);
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      this.buffer.copy(buf, at, this.offset(i), this.offset(i) + this.length(i));
      offs[2 * i] = at;
      offs[2 * i + 1] = this.length(i);
      at += (this.length(i) + 7) & ~7;
    }
    return new RecordBatch(buf, offs, this.count);
  }
}

export interface RingBufferOptions {
  /** Most records in one batch (default 4096). */
  maxBatchRecords?: number;
  /** Most record bytes in one batch (default 1 MiB). */
  maxBatchBytes?: number;
  /** Receives exceptions thrown by the batch handler; without it they are uncaught. */
  onError?: (err: unknown) => void;
}

/**
 * Consumer of a BPF ring buffer map. start() watches the map on the event loop (no thread, no
 * polling); consume() drains it synchronously (e.g. before stopping). close() unmaps the ring:
 * views of it still held become empty.
 */
export class RingBufferReader {
  readonly map: BpfMap;
  private n: NativeRingBuffer | null;

  constructor(map: BpfMap, onBatch: (batch: RecordBatch) => void, opts: RingBufferOptions = {}) {
    if (map.type !== MapType.RINGBUF) throw new MapError(`map ${map.name} is not a ring buffer (type ${map.type})`);
    this.map = map;
    let data: Buffer = Buffer.alloc(0);
    let view = new DataView(data.buffer);
    let offsets: Uint32Array = new Uint32Array(0);
    const deliver = (count: number): void => onBatch(new RecordBatch(data, offsets, count, view));
    const onError = opts.onError;
    const handler = onError
      ? (count: number): void => {
          try {
            deliver(count);
          } catch (e) {
            onError(e);
          }
        }
      : deliver;
    const n = nativeCall(
      () => new native.RingBuffer(map.fd, handler, opts.maxBatchRecords ?? 4096, opts.maxBatchBytes ?? 1 << 20),
      (e) => new MapError(`opening ring buffer ${map.name} failed: ${e.message}`, e),
    );
    const views = n.views();
    data = Buffer.from(views.data);
    view = new DataView(views.data);
    offsets = views.offsets;
    this.n = n;
  }

  private get live(): NativeRingBuffer {
    if (!this.n) throw new MapError(`ring buffer ${this.map.name} is closed`);
    return this.n;
  }

  start(): this {
    this.live.start();
    return this;
  }

  stop(): void {
    this.n?.stop();
  }

  /** Delivers everything currently queued; returns how many records that was. */
  consume(): number {
    return this.live.consume();
  }

  /** Records and batches delivered so far; bytes waiting in the ring. */
  stats(): { records: number; batches: number; size: number; pendingBytes?: number } {
    return this.live.stats();
  }

  close(): void {
    this.n?.close();
    this.n = null;
  }
}
