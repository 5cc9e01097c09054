// Writes a server-streaming gRPC call with a bound on the bytes in flight: bytes given to
// call.write() whose write has not completed (grpc-js completes a message once HTTP/2 took it,
// which its flow control holds back while the client does not read). The producer awaits
// write() before making more, so a slow or paused client slows the producer instead of
// piling messages up in the aggregator. Also waits for 'drain' when write() says so, and stops
// (write() gives false) once the client cancels or the call ends: grpc-js then never completes
// pending writes, so waiting for them would hang.
//
// A client that takes nothing for `stallMs` (connected, answering pings, never reading) would
// hold its stream's slot and bytes for ever: the writer then stops ('stalled'), ends the call
// with DEADLINE_EXCEEDED and resets the HTTP/2 stream, which frees what HTTP/2 still held for it.
import { constants as http2 } from 'node:http2';
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { EventChunk, EventsRequest } from '@retrace/events';

export type StreamCall = ServerWritableStream<EventsRequest, EventChunk>;

export class CallWriter {
  /** Bytes written and not yet taken by HTTP/2. */
  inFlight = 0;
  /** The most ever in flight. */
  peak = 0;
  /** write() is waiting for the client to take what is in flight. */
  waiting = false;
  /** Why writing stopped ('cancelled', 'closed', 'stalled'), once it has. */
  stopped: string | undefined;
  private needDrain = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: StreamCall,
    /** Bytes in flight before write() waits (one message larger than this goes alone). */
    readonly maxInFlight: number,
    /** A client that takes nothing for this long is cut off (0: never). */
    readonly stallMs = 0,
  ) {
    const stop = (why: string) => (): void => {
      this.stopped ??= why;
      this.notify();
    };
    if (call.cancelled) this.stopped = 'cancelled';
    call.once('cancelled', stop('cancelled'));
    call.once('close', stop('closed'));
    call.once('finish', stop('closed'));
    call.on('drain', () => {
      this.needDrain = false;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private blocked(bytes: number): boolean {
    if (this.stopped) return false;
    return this.needDrain || (this.inFlight > 0 && this.inFlight + bytes > this.maxInFlight);
  }

  /** Sends `data` once the bound allows; false when the call is over (cancelled, ended, stalled). */
  async write(data: Buffer): Promise<boolean> {
    while (this.blocked(data.length)) {
      this.waiting = true;
      const before = this.inFlight;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        this.wake = r;
        if (this.stallMs > 0) timer = setTimeout(r, this.stallMs);
      });
      clearTimeout(timer);
      // Woken by the timer with nothing taken meanwhile: the client reads nothing.
      if (this.stallMs > 0 && !this.stopped && this.wake !== undefined && this.inFlight >= before) {
        this.wake = undefined;
        this.cutOff();
      }
    }
    this.waiting = false;
    if (this.stopped) return false;
    const n = data.length;
    this.inFlight += n;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
    const more = this.call.write({ data }, () => {
      this.inFlight -= n;
      this.notify();
    });
    if (!more) this.needDrain = true;
    return true;
  }

  /** Ends a call whose client takes nothing, and resets its HTTP/2 stream. */
  private cutOff(): void {
    this.stopped = 'stalled';
    const details =
      `the client took nothing for ${this.stallMs / 1000} s with ${this.inFlight} bytes waiting for it; ` +
      'the stream was ended so that its slot is free (a client must read what it asks for)';
    this.call.emit('error', Object.assign(new Error(details), { code: status.DEADLINE_EXCEEDED, details }));
    // Trailers queue behind the data the client does not read: reset the stream as well. grpc-js
    // keeps the HTTP/2 stream in its call objects (no public way): found by walking them.
    let o: unknown = this.call;
    for (let i = 0; i < 4 && o && typeof o === 'object'; i++) {
      const stream = (o as { stream?: { close?: (code: number) => void; destroyed?: boolean } }).stream;
      if (stream?.close && !stream.destroyed) {
        stream.close(http2.NGHTTP2_CANCEL);
        break;
      }
      o = (o as { call?: unknown; nextCall?: unknown }).call ?? (o as { nextCall?: unknown }).nextCall;
    }
  }
}
