import { MapType } from './constants.js';
import { MapError, nativeCall } from './errors.js';
import type { BpfMap } from './map.js';
import { native, type NativeRingBuffer } from './native.js';

/** Records delivered together: one JS call for many records. Views stay valid after the call. */
export class RecordBatch {
  readonly buffer: Buffer;
  private readonly offsets: Uint32Array;

  constructor(buffer: Buffer, offsets: Uint32Array) {
    this.buffer = buffer;
    this.offsets = offsets;
  }

  get count(): number {
    return this.offsets.length >> 1;
  }

  /** Byte offset of record i in `buffer` (8-byte aligned). */
  offset(i: number): number {
    return this.offsets[i * 2] ?? 0;
  }

  length(i: number): number {
    return this.offsets[i * 2 + 1] ?? 0;
  }

  record(i: number): Buffer {
    const off = this.offset(i);
    return this.buffer.subarray(off, off + this.length(i));
  }

  *[Symbol.iterator](): Generator<Buffer> {
    for (let i = 0; i < this.count; i++) yield this.record(i);
  }
}

export interface RingBufferOptions {
  /** Most records in one batch (default 4096). */
  maxBatchRecords?: number;
  /** Most bytes in one batch (default 1 MiB). */
  maxBatchBytes?: number;
  /** Receives exceptions thrown by the batch handler; without it they are uncaught. */
  onError?: (err: unknown) => void;
}

/**
 * Consumer of a BPF ring buffer map. start() watches the ring's epoll fd on the event loop
 * (no thread, no polling); consume() drains it synchronously (e.g. before stopping).
 */
export class RingBufferReader {
  readonly map: BpfMap;
  private n: NativeRingBuffer | null;

  constructor(map: BpfMap, onBatch: (batch: RecordBatch) => void, opts: RingBufferOptions = {}) {
    if (map.type !== MapType.RINGBUF) throw new MapError(`map ${map.name} is not a ring buffer (type ${map.type})`);
    this.map = map;
    const onError = opts.onError;
    const handler = onError
      ? (buf: Buffer, offs: Uint32Array) => {
          try {
            onBatch(new RecordBatch(buf, offs));
          } catch (e) {
            onError(e);
          }
        }
      : (buf: Buffer, offs: Uint32Array) => onBatch(new RecordBatch(buf, offs));
    this.n = nativeCall(
      () => new native.RingBuffer(map.fd, handler, opts.maxBatchRecords ?? 4096, opts.maxBatchBytes ?? 1 << 20),
      (e) => new MapError(`opening ring buffer ${map.name} failed: ${e.message}`, e),
    );
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

  stats(): { records: number; batches: number } {
    return this.live.stats();
  }

  close(): void {
    this.n?.close();
    this.n = null;
  }
}
