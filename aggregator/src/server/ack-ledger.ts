// Which received batches may be acknowledged: a batch is acknowledged once every event of it is
// in the store and the store is synced (a checkpoint), never on receipt. Agents keep what is not
// acknowledged and resend it after any reconnect, so an aggregator killed at any moment loses
// nothing it acknowledged. The ledger is part of each checkpoint: after a restart it says, for
// the batches agents will resend, which events are already stored (skipped) and whose counts the
// saved summary already holds (not counted twice).

/** A batch received and not yet acknowledged: which of its events are stored. */
export class BatchRef {
  /** Events fed to the sorter and not stored yet. */
  remaining: number;
  /** Events fed. */
  readonly size: number;
  private readonly stored: Uint8Array;

  constructor(
    readonly seq: bigint,
    /** Events in the batch. */
    events: number,
    /** The batch's indices of the events fed, when not all of them (a resend after a restart). */
    private readonly only?: number[],
  ) {
    this.size = only ? only.length : events;
    this.remaining = this.size;
    this.stored = new Uint8Array(this.size);
  }

  /** The batch's index of the event fed at `slot`. */
  index(slot: number): number {
    return this.only ? (this.only[slot] as number) : slot;
  }

  /** The batch's indices of the events fed. */
  get fed(): number[] {
    return this.only ?? Array.from({ length: this.size }, (_, i) => i);
  }

  /** The fed event at `slot` (its place in `fed`) is in the store. */
  markStored(slot: number): void {
    if (this.stored[slot]) return;
    this.stored[slot] = 1;
    this.remaining--;
  }

  /** Indices in the batch of the events fed and not stored yet. */
  unstored(): number[] {
    return this.unstoredOf(this.stored);
  }

  /**
   * What is stored now, for unstoredOf() later: a copy of one byte per event (undefined when
   * nothing is stored yet). A checkpoint keeps these while its fsyncs run, not the lists.
   */
  snapshot(): Uint8Array | undefined {
    return this.remaining === this.size ? undefined : this.stored.slice();
  }

  /** Indices in the batch of the events fed and not stored as of `snapshot` (undefined: none stored). */
  unstoredOf(snapshot: Uint8Array | undefined): number[] {
    if (snapshot === undefined) return this.fed;
    const out: number[] = [];
    for (let s = 0; s < this.size; s++) if (!snapshot[s]) out.push(this.index(s));
    return out;
  }
}

/** One (node, trace) in a checkpoint. Sequence numbers as decimal strings (JSON). */
export interface LedgerEntryState {
  node: string;
  trace: string;
  incarnation: string;
  /** Every batch up to this one is stored and acknowledged. */
  acked: string;
  /** The summary saved with the checkpoint counts every batch up to this one. */
  counted: string;
  /** Batches in (acked, counted] with events not stored: their indices (absent: all stored). */
  unstored: Record<string, number[]>;
}

interface Entry {
  node: string;
  trace: string;
  incarnation: string;
  acked: bigint;
  /** Highest batch counted in the summary (received now, or counted before a restart). */
  counted: bigint;
  /** Received batches not acknowledged yet, in order. */
  batches: BatchRef[];
  /** After a restart: what the saved checkpoint says of batches (acked, counted] still to come. */
  replay: Map<bigint, number[]>;
  replayUpTo: bigint;
}

/** What to do with a received batch. */
export interface Admission {
  ref: BatchRef;
  /** Whether its events and losses go into the summary (false: the saved summary has them). */
  count: boolean;
  /** Indices of the events to feed to the sorter, or undefined for all of them. */
  feed: number[] | undefined;
  /**
   * Events of earlier batches that were received but not stored before a restart, and that the
   * agent will not resend (it skipped those batches: a gap): lost.
   */
  lostBefore: number;
}

const key = (node: string, trace: string): string => `${node}\0${trace}`;

/** An acknowledgement to send. */
export interface LedgerAck {
  node: string;
  trace: string;
  incarnation: string;
  seq: bigint;
}

/** An entry as prepare() found it. */
interface EntrySnapshot {
  entry: Entry;
  acked: bigint;
  /** Batches not acknowledged by it, with what of them was stored (BatchRef.snapshot). */
  batches: { ref: BatchRef; stored: Uint8Array | undefined }[];
  replay: [bigint, number[]][];
}

/** An advance found by prepare(), for commit(): its acknowledgements, and the entries as it found them. */
export class PreparedAdvance {
  constructor(
    readonly acks: LedgerAck[],
    /** Per entry that advances, the last batch acknowledged. */
    readonly done: { entry: Entry; batch: BatchRef }[],
    private readonly entries: EntrySnapshot[],
  ) {}

  /** The entries as a checkpoint of that moment saves them. */
  state(): LedgerEntryState[] {
    return this.entries.map(({ entry: e, acked, batches, replay }) => {
      const unstored: Record<string, number[]> = {};
      for (const [seq, idx] of replay) if (idx.length) unstored[String(seq)] = idx;
      for (const { ref, stored } of batches) {
        const idx = ref.unstoredOf(stored);
        if (idx.length) unstored[String(ref.seq)] = idx;
      }
      return {
        node: e.node,
        trace: e.trace,
        incarnation: e.incarnation,
        acked: String(acked),
        counted: String(e.counted > e.replayUpTo ? e.counted : e.replayUpTo),
        unstored,
      };
    });
  }
}

export class AckLedger {
  private readonly entries = new Map<string, Entry>();

  /** Restores a checkpoint's entries (before any agent connects). */
  load(states: LedgerEntryState[]): void {
    for (const s of states) {
      const acked = BigInt(s.acked);
      this.entries.set(key(s.node, s.trace), {
        node: s.node,
        trace: s.trace,
        incarnation: s.incarnation,
        acked,
        counted: BigInt(s.counted),
        batches: [],
        replay: new Map(Object.entries(s.unstored).map(([seq, idx]) => [BigInt(seq), idx])),
        replayUpTo: BigInt(s.counted),
      });
    }
  }

  /** Per node, its incarnation and the batches acknowledged per trace (the link's cursors). */
  cursors(): Record<string, { incarnation: string; lastSeq: Record<string, string> }> {
    const out: Record<string, { incarnation: string; lastSeq: Record<string, string> }> = {};
    for (const e of this.entries.values()) {
      const c = (out[e.node] ??= { incarnation: e.incarnation, lastSeq: {} });
      if (c.incarnation === e.incarnation) c.lastSeq[e.trace] = String(e.acked);
    }
    return out;
  }

  /**
   * The events a restarted agent's earlier run never resends: those of its batches that were
   * received but not stored before a restart of the aggregator. They are lost; returns how many.
   */
  newIncarnation(node: string, incarnation: string): { trace: string; events: number }[] {
    const out: { trace: string; events: number }[] = [];
    for (const [k, e] of this.entries) {
      if (e.node !== node || e.incarnation === incarnation) continue;
      let events = 0;
      for (const idx of e.replay.values()) events += idx.length;
      if (events) out.push({ trace: e.trace, events });
      this.entries.delete(k);
    }
    return out;
  }

  /** A batch arrived in sequence (the link dropped duplicates): what to feed and count. */
  admit(node: string, trace: string, incarnation: string, seq: bigint, events: number): Admission {
    const k = key(node, trace);
    let e = this.entries.get(k);
    if (!e || e.incarnation !== incarnation) {
      e = {
        node,
        trace,
        incarnation,
        acked: 0n,
        counted: 0n,
        batches: [],
        replay: new Map(),
        replayUpTo: 0n,
      };
      this.entries.set(k, e);
    }
    let lostBefore = 0;
    for (const [s, idx] of e.replay)
      if (s < seq) {
        lostBefore += idx.length;
        e.replay.delete(s);
      }
    let feed: number[] | undefined;
    let count = true;
    if (seq <= e.replayUpTo) {
      // Resent after a restart: the summary has it, and only what was not stored is fed.
      count = false;
      feed = e.replay.get(seq) ?? [];
      e.replay.delete(seq);
    }
    const ref = new BatchRef(seq, events, feed);
    e.batches.push(ref);
    if (seq > e.counted) e.counted = seq;
    return { ref, count, feed, lostBefore };
  }

  /**
   * Advances each entry past its fully stored batches (call right after the store was synced);
   * returns the new acknowledgements to send, and the entries as the checkpoint saves them.
   */
  advance(): { acks: LedgerAck[]; state: LedgerEntryState[] } {
    const p = this.prepare();
    this.commit(p);
    return { acks: p.acks, state: p.state() };
  }

  /**
   * What advance() would do now, without doing it: the acknowledgements of the batches stored
   * so far, and the entries as a checkpoint of this moment saves them (what is stored now: a
   * byte an event, made into lists when the checkpoint is written). commit() applies it once the
   * store as of this moment is synced and the checkpoint written (the ledger may have changed
   * meanwhile: batches received, stored, traces dropped).
   */
  prepare(): PreparedAdvance {
    const acks: LedgerAck[] = [];
    const done: PreparedAdvance['done'] = [];
    const snaps: EntrySnapshot[] = [];
    for (const e of this.entries.values()) {
      let acked = e.acked;
      let k = 0;
      while (k < e.batches.length && (e.batches[k] as BatchRef).remaining === 0)
        acked = (e.batches[k++] as BatchRef).seq;
      if (acked > e.acked) {
        acks.push({ node: e.node, trace: e.trace, incarnation: e.incarnation, seq: acked });
        done.push({ entry: e, batch: e.batches[k - 1] as BatchRef });
      }
      const batches: EntrySnapshot['batches'] = [];
      for (let i = k; i < e.batches.length; i++) {
        const ref = e.batches[i] as BatchRef;
        if (ref.remaining > 0) batches.push({ ref, stored: ref.snapshot() });
      }
      snaps.push({ entry: e, acked, batches, replay: [...e.replay] });
    }
    return new PreparedAdvance(acks, done, snaps);
  }

  /** Applies what prepare() found: its batches leave the ledger, acknowledged. */
  commit(p: PreparedAdvance): void {
    for (const { entry: e, batch } of p.done) {
      if (this.entries.get(key(e.node, e.trace)) !== e) continue; // dropped or restarted since
      const i = e.batches.indexOf(batch);
      if (i < 0) continue;
      e.batches.splice(0, i + 1);
      if (batch.seq > e.acked) e.acked = batch.seq;
    }
  }

  /** Forgets a trace (deleted): nothing of it will be acknowledged. */
  dropTrace(trace: string): void {
    for (const [k, e] of this.entries) if (e.trace === trace) this.entries.delete(k);
  }
}
