// One trace's events on their way to the aggregator: encoded events are gathered into numbered
// batches, which stay buffered until the aggregator acknowledges them (a reconnect resends the
// rest). The bytes held are bounded: past the bound, new events are dropped and counted, never
// silently, and never with memory growing without limit.
import type { EventBatch, LostEvents, ProbeLost } from '@retrace/events';

export interface BatchQueueOptions {
  /** Bytes of encoded events held (gathering, unsent and unacknowledged). */
  maxBytes: number;
  /** Events per batch before one is cut without waiting for the timer. */
  batchEvents?: number;
}

interface Held {
  batch: EventBatch;
  bytes: number;
  sent: boolean;
}

export class BatchQueue {
  private gathering: Uint8Array[] = [];
  private gatheringBytes = 0;
  private lostByProbe = new Map<string, bigint>();
  private readonly held: Held[] = [];
  private heldBytes = 0;
  private nextSeq = 1n;
  /** Events dropped because the bound was reached, not yet reported to the aggregator. */
  private unreportedDrops = 0;
  /** Totals, for status and metrics. */
  readonly totals = { queued: 0, sent: 0, acked: 0, dropped: 0, resent: 0 };
  private readonly batchEvents: number;

  constructor(
    readonly trace: string,
    private readonly opts: BatchQueueOptions,
  ) {
    this.batchEvents = opts.batchEvents ?? 1024;
  }

  get bytes(): number {
    return this.gatheringBytes + this.heldBytes;
  }

  get lastSeq(): bigint {
    return this.nextSeq - 1n;
  }

  /** Adds one encoded event; false when it was dropped because the bound is reached. */
  add(encoded: Uint8Array): boolean {
    if (this.bytes + encoded.length > this.opts.maxBytes) {
      this.unreportedDrops++;
      this.totals.dropped++;
      return false;
    }
    this.gathering.push(encoded);
    this.gatheringBytes += encoded.length;
    this.totals.queued++;
    if (this.gathering.length >= this.batchEvents) this.cut();
    return true;
  }

  /** Ring buffer losses of a probe, reported in the next batch. */
  addRingLoss(probe: string, count: number): void {
    if (count > 0) this.lostByProbe.set(probe, (this.lostByProbe.get(probe) ?? 0n) + BigInt(count));
  }

  /** Turns what was gathered into the next numbered batch (nothing when empty). */
  cut(): void {
    if (!this.gathering.length && !this.lostByProbe.size) return;
    const lost: ProbeLost[] = [...this.lostByProbe].map(([probe, count]) => ({ probe, count }));
    const batch: EventBatch = {
      trace: this.trace,
      seq: this.nextSeq++,
      events: this.gathering as unknown as EventBatch['events'],
      lost,
    };
    this.held.push({ batch, bytes: this.gatheringBytes, sent: false });
    this.heldBytes += this.gatheringBytes;
    this.gathering = [];
    this.gatheringBytes = 0;
    this.lostByProbe = new Map();
  }

  /** The next batch to write, marked as sent. */
  nextUnsent(): EventBatch | undefined {
    for (const h of this.held)
      if (!h.sent) {
        h.sent = true;
        this.totals.sent += h.batch.events?.length ?? 0;
        return h.batch;
      }
    return undefined;
  }

  /** A loss report for events dropped since the last one (backpressure), if any. */
  takeDropReport(): LostEvents | undefined {
    if (!this.unreportedDrops) return undefined;
    const r: LostEvents = {
      trace: this.trace,
      cause: 'backpressure',
      count: BigInt(this.unreportedDrops),
      first_seq: 0n,
      last_seq: 0n,
    };
    this.unreportedDrops = 0;
    return r;
  }

  /** The aggregator accepted every batch up to `seq`: they are released. */
  ack(seq: bigint): void {
    while (this.held.length && (this.held[0]?.batch.seq ?? 0n) <= seq) {
      const h = this.held.shift() as Held;
      this.heldBytes -= h.bytes;
      this.totals.acked += h.batch.events?.length ?? 0;
    }
  }

  /**
   * After a reconnect: the aggregator has every batch up to `lastSeq` of this queue's run; the
   * others are written again, in order.
   */
  rewind(lastSeq: bigint): void {
    this.ack(lastSeq);
    for (const h of this.held)
      if (h.sent) {
        h.sent = false;
        this.totals.resent += h.batch.events?.length ?? 0;
        this.totals.sent -= h.batch.events?.length ?? 0;
      }
  }

  /** Nothing gathered, unsent or unacknowledged. */
  get idle(): boolean {
    return !this.gathering.length && !this.held.length && !this.unreportedDrops;
  }
}
