// Writes a server-streaming gRPC call with a bound on the bytes in flight: bytes given to
// call.write() whose write has not completed (grpc-js completes a message once HTTP/2 took it,
// which its flow control holds back while the client does not read). The producer awaits
// write() before making more, so a slow or paused client slows the producer instead of
// piling messages up in the aggregator. Also waits for 'drain' when write() says so, and stops
// (write() gives false) once the client cancels or the call ends: grpc-js then never completes
// pending writes, so waiting for them would hang.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { EventChunk, EventsRequest } from '@retrace/events';

export type StreamCall = ServerWritableStream<EventsRequest, EventChunk>;

export class CallWriter {
  /** Bytes written and not yet taken by HTTP/2. */
  inFlight = 0;
  /** The most ever in flight. */
  peak = 0;
  /** write() is waiting for the client to take what is in flight. */
  waiting = false;
  /** Why writing stopped ('cancelled', 'closed'), once it has. */
  stopped: string | undefined;
  private needDrain = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: StreamCall,
    /** Bytes in flight before write() waits (one message larger than this goes alone). */
    readonly maxInFlight: number,
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

  /** Sends `data` once the bound allows; false when the call is over (cancelled, ended). */
  async write(data: Buffer): Promise<boolean> {
    while (this.blocked(data.length)) {
      this.waiting = true;
      await new Promise<void>((r) => (this.wake = r));
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
}
