// One trace's events on their way to the aggregator: encoded events are gathered into numbered
// batches, which stay buffered until the aggregator acknowledges them (a reconnect resends the
// rest). The bytes held are bounded: past the bound, new events are dropped and counted, never
// silently, and never with memory growing without limit. Counts of what was lost here (the bound,
// the events/s budget) travel in the next batch: acknowledged with it, resent with it.
import {
  ProtoWriter,
  encodeMessage,
  fieldNumber,
  putVarint,
  varintLength,
  type Event,
  type CauseLost,
  type EventBatch,
  type ProbeLost,
} from '@retrace/events';
import { EventWriter } from './event-writer.js';

/** Events per batch by default (BatchQueueOptions.batchEvents). */
export const BATCH_EVENTS = 4096;
/**
 * Encoded bytes per batch by default (BatchQueueOptions.batchBytes): 4096 large events (long
 * stacks, big packet snapshots) would otherwise make a message of tens of MiB, near gRPC's
 * 64 MiB limit on both sides; ordinary ones (250-500 bytes) fill 4096 events first.
 */
export const BATCH_BYTES = 4 << 20;

export interface BatchQueueOptions {
  /** Bytes of encoded events held (gathering, unsent and unacknowledged). */
  maxBytes: number;
  /**
   * Events per batch before one is cut without waiting for the timer (4096: what a batch costs
   * the agent and the aggregator, its gRPC message, acknowledgement and release pass, is spread
   * over 4x more events than with 1024: +10-15% end to end with 4 agents; see
   * docs/cost/cluster.md).
   */
  batchEvents?: number;
  /** Encoded bytes of events per batch before one is cut (the event that reaches it included). */
  batchBytes?: number;
}

interface Held {
  seq: bigint;
  /**
   * The AgentMessage carrying the batch, encoded once: written as is, and again as is by
   * resends (no copy of the events on the way to gRPC, which makes its own framed copy).
   */
  message: Buffer;
  /** Where the EventBatch starts in it (after the AgentMessage's tag and length). */
  at: number;
  /** The whole buffer it is in: reused for a later batch once this one is acknowledged. */
  buf: Buffer;
  events: number;
  bytes: number;
  sent: boolean;
}

/** A batch as the link writes it. */
export interface PendingBatch {
  seq: bigint;
  events: number;
  /** The encoded AgentMessage whose `batch` it is, for the link to write as it is. */
  message: Buffer;
  /** The encoded EventBatch (a view into `message`). */
  encoded: Uint8Array;
}

const EVENTS_FIELD = fieldNumber('EventBatch', 'events');
const BATCH_TAG = (fieldNumber('AgentMessage', 'batch') << 3) | 2;
/** Room at the start of a batch's buffer for the AgentMessage's batch tag and length. */
const PREFIX = varintLength(BATCH_TAG) + 5;
/** The first batch's buffer; later ones start at the size of the last batch and some. */
const FIRST_BYTES = 64 * 1024;
/** Buffers of acknowledged batches kept for later ones. */
const SPARE_BUFFERS = 8;

export class BatchQueue {
  /**
   * Events gathered for the next batch, written as EventBatch `events` fields (tag, length,
   * event) after PREFIX bytes: events are encoded straight into the batch, with no buffer of
   * their own, and the buffer becomes the batch's message (the AgentMessage's tag and length go
   * in front, the batch's other fields after the events): no copy of the events.
   */
  private gathering: ProtoWriter;
  /**
   * Buffers of acknowledged batches, for the next ones: a batch lives until the aggregator has it
   * stored (a second or so), long enough for its buffer to reach the old generation, where it
   * would wait for a full collection once dropped (tens of MiB of an agent's memory at 100k
   * events/s).
   */
  private readonly spare: Buffer[] = [];
  private gatheringEvents = 0;
  private lostByProbe = new Map<string, bigint>();
  /** Events lost on the agent (cause: backpressure, budget) since the last batch. */
  private lostByCause = new Map<string, bigint>();
  private readonly held: Held[] = [];
  private heldBytes = 0;
  private nextSeq = 1n;
  /** Totals, for status and metrics. */
  readonly totals = { queued: 0, sent: 0, acked: 0, dropped: 0, resent: 0 };
  private readonly batchEvents: number;
  private readonly batchBytes: number;
  private readonly eventWriter = new EventWriter();

  constructor(
    readonly trace: string,
    private readonly opts: BatchQueueOptions,
  ) {
    this.batchEvents = opts.batchEvents ?? BATCH_EVENTS;
    this.batchBytes = opts.batchBytes ?? BATCH_BYTES;
    this.gathering = this.writer(FIRST_BYTES);
  }

  /** Bytes held: events gathered, unsent and unacknowledged (with their field tags and lengths). */
  get bytes(): number {
    return this.gathering.pos - PREFIX + this.heldBytes;
  }

  get lastSeq(): bigint {
    return this.nextSeq - 1n;
  }

  /** Adds one event, encoding it into the batch; false when it was dropped because the bound is reached. */
  addEvent(ev: Event): boolean {
    const w = this.gathering;
    const start = w.pos;
    this.eventWriter.write(w, EVENTS_FIELD, ev);
    if (w.pos - PREFIX + this.heldBytes > this.opts.maxBytes) {
      w.pos = start; // taken back: over the bound
      this.addLoss('backpressure', 1);
      this.totals.dropped++;
      return false;
    }
    this.gatheringEvents++;
    this.totals.queued++;
    if (this.gatheringEvents >= this.batchEvents || w.pos - PREFIX >= this.batchBytes) this.cut();
    return true;
  }

  /** Ring buffer losses of a probe, reported in the next batch. */
  addRingLoss(probe: string, count: number): void {
    if (count > 0) this.lostByProbe.set(probe, (this.lostByProbe.get(probe) ?? 0n) + BigInt(count));
  }

  /** Events the agent lost for `cause` (backpressure, budget), reported in the next batch. */
  addLoss(cause: string, count: number): void {
    if (count > 0) this.lostByCause.set(cause, (this.lostByCause.get(cause) ?? 0n) + BigInt(count));
  }

  /** Turns what was gathered into the next numbered batch (nothing when empty). */
  cut(): void {
    if (!this.gatheringEvents && !this.lostByProbe.size && !this.lostByCause.size) return;
    const lost: ProbeLost[] = [...this.lostByProbe].map(([probe, count]) => ({ probe, count }));
    const losses: CauseLost[] = [...this.lostByCause].map(([cause, count]) => ({ cause, count }));
    const seq = this.nextSeq++;
    const w = this.gathering;
    const events = w.pos - PREFIX;
    // Protobuf fields may come in any order: the events as gathered, then the batch's header.
    w.raw(encodeMessage('EventBatch', { trace: this.trace, seq, lost, losses } satisfies EventBatch));
    // The AgentMessage around it: the batch field's tag and length, just before the EventBatch.
    const len = w.pos - PREFIX;
    const at = PREFIX - varintLength(BATCH_TAG) - varintLength(len);
    putVarint(w.buf, putVarint(w.buf, at, BATCH_TAG), len);
    const message = w.buf.subarray(at, w.pos);
    this.held.push({
      seq,
      message,
      at: PREFIX - at,
      buf: w.buf,
      events: this.gatheringEvents,
      bytes: events,
      sent: false,
    });
    this.heldBytes += events;
    this.gathering = this.writer(Math.max(FIRST_BYTES, Math.ceil(w.pos * 1.25)));
    this.gatheringEvents = 0;
    this.lostByProbe = new Map();
    this.lostByCause = new Map();
  }

  /** A writer for the next batch's events, PREFIX bytes in: a spare buffer when one is big enough. */
  private writer(bytes: number): ProtoWriter {
    const i = this.spare.findIndex((b) => b.length >= bytes);
    const w = new ProtoWriter(i < 0 ? bytes : 0);
    if (i >= 0) w.buf = this.spare.splice(i, 1)[0] as Buffer;
    w.pos = PREFIX;
    return w;
  }

  /** The next batch to write, marked as sent. */
  nextUnsent(): PendingBatch | undefined {
    for (const h of this.held)
      if (!h.sent) {
        h.sent = true;
        this.totals.sent += h.events;
        return { seq: h.seq, events: h.events, message: h.message, encoded: h.message.subarray(h.at) };
      }
    return undefined;
  }

  /** The aggregator accepted every batch up to `seq`: they are released. */
  ack(seq: bigint): void {
    while (this.held.length && (this.held[0]?.seq ?? 0n) <= seq) {
      const h = this.held.shift() as Held;
      this.heldBytes -= h.bytes;
      this.totals.acked += h.events;
      // (gRPC copied it into its own frame when it was written: nothing else reads it)
      if (this.spare.length < SPARE_BUFFERS) this.spare.push(h.buf);
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
        this.totals.resent += h.events;
        this.totals.sent -= h.events;
      }
  }

  /** Events held that the aggregator has not acknowledged (gathered, unsent or unacknowledged). */
  get unacknowledged(): number {
    return this.gatheringEvents + this.held.reduce((n, h) => n + h.events, 0);
  }

  /** Nothing gathered, unsent or unacknowledged. */
  get idle(): boolean {
    return !this.gatheringEvents && !this.held.length && !this.lostByCause.size && !this.lostByProbe.size;
  }
}
