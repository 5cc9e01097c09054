// The aggregator: receives every agent's stream, puts node times on one clock, sorts events into
// per-packet journeys across nodes behind a lateness watermark, stores them per trace, keeps
// per-trace summaries and metrics, and answers queries. A batch is acknowledged to its agent only
// once all its events are stored and synced and a checkpoint says so (ack-ledger.ts,
// checkpoint.ts): killed at any moment, it restarts from the checkpoint and the agents resend
// the rest, with nothing stored or counted twice.
import { ProtoDecodeError, type Event, type TraceSpec, type TraceSummary } from '@retrace/events';
import { ClusterClock, JourneySorter, type Journey, type SortStats } from '../journeys/index.js';
import { SummaryBuilder } from '../journeys/summary.js';
import { StoreWriteError, TraceStore, setAside } from '../store/index.js';
import { AckLedger, type LedgerAck } from './ack-ledger.js';
import { AgentLinkServer, type AgentStream, type LinkHandler } from './agent-link-server.js';
import { CheckpointError, checkpointPath, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { AggregatorMetrics } from './aggregator-metrics.js';
import { runsOn, specForNode } from './trace-file.js';

export interface AggregatorOptions {
  storeDir: string;
  storeCapBytes?: number;
  /** Bytes of all traces together (TraceStore totalCapBytes; default 4 x storeCapBytes). */
  storeTotalCapBytes?: number;
  /** The least share of a trace each node keeps however many send (TraceStore nodeFloorBytes). */
  nodeFloorBytes?: number;
  latenessMs?: number;
  maxBufferedEvents?: number;
  heartbeatMs?: number;
  deadlineMs?: number;
  /** Delay before each batch is taken in (tests of a slow aggregator). */
  ingestDelayMs?: number;
  /**
   * How often the store is synced and a checkpoint written, after which batches are
   * acknowledged (default 500 ms). Agents hold what is not acknowledged: lateness plus this.
   */
  checkpointMs?: number;
  /**
   * false: acknowledge at each checkpoint without syncing the store or writing the checkpoint,
   * as the aggregator did before acknowledgements were durable. Only for measuring what
   * durability costs (make bench): a crash then loses acknowledged events.
   */
  durableAcks?: boolean;
  /** How agents' certificates bind them to nodes (agent-link-server.ts LinkTiming). */
  agentCerts?: 'bound' | 'shared';
  /** Clients may connect without a certificate (LinkTiming.clientCertificatesOptional). */
  clientCertificatesOptional?: boolean;
  log?: (msg: string) => void;
}

interface TraceState {
  sorter: JourneySorter;
  summary: SummaryBuilder;
}

export class Aggregator implements LinkHandler {
  readonly metrics = new AggregatorMetrics();
  readonly link: AgentLinkServer;
  readonly clock = new ClusterClock();
  private readonly store: TraceStore;
  private readonly live = new Map<string, TraceState>();
  private specs: TraceSpec[] = [];
  private readonly timer: NodeJS.Timeout;
  private lastSave = 0;
  private lastCheckpoint = 0;
  private readonly log: (m: string) => void;
  private readonly ledger = new AckLedger();
  /** Summaries as of the checkpoint a restart began from. */
  private readonly restored: Record<string, TraceSummary> = {};
  /** A checkpoint is syncing (checkpoint()), and which one: a later one and close() make their own. */
  private syncing = false;
  private generation = 0;
  /** Why the store cannot write (acknowledgements stopped), while it cannot. */
  storeBlocked: string | undefined;

  constructor(private readonly opts: AggregatorOptions) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    const cp = this.readCheckpoint(opts.storeDir);
    if (cp) for (const m of TraceStore.rollBack(opts.storeDir, cp.extents)) this.log(`restart: ${m}`);
    this.store = TraceStore.open(opts.storeDir, {
      ...(opts.storeCapBytes ? { capBytes: opts.storeCapBytes } : {}),
      ...(opts.storeTotalCapBytes ? { totalCapBytes: opts.storeTotalCapBytes } : {}),
      ...(opts.nodeFloorBytes !== undefined ? { nodeFloorBytes: opts.nodeFloorBytes } : {}),
      onWarning: (m: string) => this.log(`warning: ${m}`),
      // A node past its share of the trace loses its own newest events, counted as such.
      onRefused: (trace: string, node: string, events: number) => this.countRefused(this.trace(trace), node, events),
    });
    this.link = new AgentLinkServer(this, {
      heartbeatMs: opts.heartbeatMs ?? 1000,
      deadlineMs: opts.deadlineMs ?? 5000,
      ...(opts.ingestDelayMs ? { ingestDelayMs: opts.ingestDelayMs } : {}),
      ...(opts.agentCerts ? { agentCerts: opts.agentCerts } : {}),
      ...(opts.clientCertificatesOptional ? { clientCertificatesOptional: true } : {}),
    });
    if (cp) {
      this.ledger.load(cp.ledger);
      this.link.loadCursors(this.ledger.cursors());
      Object.assign(this.restored, cp.summaries);
    }
    this.timer = setInterval(() => this.tick(), 100);
  }

  /** The checkpoint to restart from; a damaged one is set aside (kept for reading) and said. */
  private readCheckpoint(dir: string): ReturnType<typeof readCheckpoint> {
    try {
      return readCheckpoint(dir);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      const aside = setAside(checkpointPath(dir));
      this.log(
        `warning: ${e.message}; set aside as ${aside}. Starting without it: batches agents resend ` +
          'may be stored twice, and summaries start from the store',
      );
      return undefined;
    }
  }

  /** The traces agents should run (from a file, or the operator). */
  setTraces(specs: TraceSpec[]): void {
    this.specs = specs;
    for (const s of specs) this.trace(s.name);
    this.link.reassignAll();
  }

  private trace(name: string): TraceState {
    let t = this.live.get(name);
    if (!t) {
      const summary = new SummaryBuilder(name, this.restored[name] ?? this.store.summary(name));
      const sorter = new JourneySorter({
        clock: this.clock,
        onJourney: (j: Journey) => this.onJourney(name, t as TraceState, j),
        ...(this.opts.latenessMs !== undefined ? { latenessNs: BigInt(this.opts.latenessMs) * 1_000_000n } : {}),
        ...(this.opts.maxBufferedEvents ? { maxBufferedEvents: this.opts.maxBufferedEvents } : {}),
      });
      t = { sorter, summary };
      this.live.set(name, t);
    }
    return t;
  }

  private onJourney(name: string, t: TraceState, j: Journey): void {
    this.store.append(name, j);
    let drops = false;
    for (const e of j.events) {
      e.origin?.markStored(e.slot);
      if (e.late) this.metrics.lateEvent();
      const reason = e.dropReason;
      if (reason) {
        this.metrics.drop(reason);
        drops = true;
      }
    }
    if (drops) t.summary.journey(j); // (what it counts of a journey are its drops)
    this.metrics.journey(j.nodes.length > 1);
  }

  // --- LinkHandler -------------------------------------------------------------------------

  tracesFor(node: string): TraceSpec[] {
    return this.specs.filter((s) => runsOn(s, node)).map((s) => specForNode(s, node));
  }

  onRegister(s: AgentStream, previousIncarnation: string | undefined): void {
    // Batches of its previous run that a restart of ours left unstored will not come again.
    for (const l of this.ledger.newIncarnation(s.node, s.incarnation))
      this.countLost(this.trace(l.trace), s.node, 'agent-restart', l.events);
    const off = s.register.boot_offset;
    if (off) this.clock.setBootOffset(s.node, off.sec * 1_000_000_000n + off.nsec);
    for (const name of this.specs.filter((x) => runsOn(x, s.node)).map((x) => x.name)) {
      const t = this.trace(name);
      t.summary.node(s.node, {
        state: previousIncarnation ? 'restarted' : 'attaching',
        kernel_release: s.register.kernel_release,
      });
      t.sorter.setNodeActive(s.node, true);
    }
    this.metrics.agents.set(this.link.connectedNodes().length);
    this.log(
      `agent ${s.node} registered (kernel ${s.register.kernel_release}, run ${s.incarnation}${previousIncarnation ? `, restarted: previous run ${previousIncarnation}` : ''})`,
    );
  }

  onAttach(s: AgentStream, r: Parameters<LinkHandler['onAttach']>[1]): void {
    const t = this.trace(r.trace);
    // The kernel again: a trace created after the agent registered has not seen it.
    t.summary.node(s.node, {
      state: r.ok ? 'running' : 'failed',
      error: r.ok ? '' : r.error,
      kernel_release: s.register.kernel_release,
    });
    t.summary.probes(s.node, r.probes ?? []);
    if (!r.ok) {
      t.sorter.setNodeActive(s.node, false);
      this.log(`trace ${r.trace} failed on ${s.node}: ${r.error}`);
    }
  }

  onBatch(
    s: AgentStream,
    trace: string,
    seq: bigint,
    events: Uint8Array[],
    lost: { probe: string; count: bigint }[],
    losses: { cause: string; count: bigint }[],
  ): string | undefined {
    const t = this.trace(trace);
    const adm = this.ledger.admit(s.node, trace, s.incarnation, seq, events.length);
    if (adm.lostBefore) this.countLost(t, s.node, 'aggregator-restart', adm.lostBefore);
    const ref = adm.ref;
    let bad = 0;
    let firstError = '';
    const sorter = t.sorter;
    // The events go to the sorter as they are: views into the batch's buffer, which it holds
    // while they wait (their keys are read into its columns, nothing is made per event).
    for (let slot = 0; slot < ref.size; slot++) {
      const raw = events[ref.index(slot)];
      try {
        if (!raw) throw new ProtoDecodeError('EventBatch', `event ${ref.index(slot)} is missing from the resent batch`);
        sorter.pushBytes(s.node, raw, ref, slot);
      } catch (err) {
        if (!(err instanceof ProtoDecodeError)) throw err;
        ref.markStored(slot); // never will be: not waited for
        bad++;
        firstError ||= err.message;
      }
    }
    sorter.endBatch();
    // A batch resent after a restart is in the saved summary already.
    if (!adm.count) return undefined;
    const good = events.length - bad;
    t.summary.received(s.node, good);
    this.metrics.received.inc({ node: s.node }, good);
    for (const l of lost) this.countLost(t, s.node, 'ring', Number(l.count));
    for (const l of losses) this.countLost(t, s.node, l.cause, Number(l.count));
    if (bad) {
      this.countLost(t, s.node, 'malformed', bad);
      const problem = `batch ${seq} of ${trace}: ${bad} event(s) could not be decoded (${firstError})`;
      this.onStreamError(s.node, problem);
      return problem;
    }
    return undefined;
  }

  /** Received events the store refused: lost (cause quota), and no longer counted as stored. */
  private countRefused(t: TraceState, node: string, count: number): void {
    t.summary.refused(node, 'quota', count);
    this.metrics.lost.inc({ node, cause: 'quota' }, count);
  }

  private countLost(t: TraceState, node: string, cause: string, count: number): void {
    t.summary.lost(node, cause, BigInt(count));
    this.metrics.lost.inc({ node, cause }, count);
  }

  onGap(node: string, trace: string, gap: Parameters<LinkHandler['onGap']>[2]): void {
    this.trace(trace).summary.gap(node, gap);
    this.log(`trace ${trace} on ${node}: batches ${gap.first_seq}..${gap.last_seq || 'end'} missing (${gap.reason})`);
  }

  onLost(s: AgentStream, l: Parameters<LinkHandler['onLost']>[1]): void {
    this.trace(l.trace).summary.lost(s.node, l.cause, l.count);
    this.metrics.lost.inc({ node: s.node, cause: l.cause }, Number(l.count));
  }

  onStatus(s: AgentStream, st: Parameters<LinkHandler['onStatus']>[1]): void {
    this.trace(st.trace).summary.status(s.node, st);
  }

  onComplete(s: AgentStream, c: Parameters<LinkHandler['onComplete']>[1]): void {
    const t = this.trace(c.trace);
    t.summary.node(s.node, { state: c.reason === 'error' ? 'failed' : 'complete' });
    t.sorter.setNodeActive(s.node, false);
  }

  onStreamEnd(s: AgentStream, reason: string, lost: boolean): void {
    for (const t of this.live.values()) {
      if (lost) t.summary.nodeLost(s.node, reason);
      t.sorter.setNodeActive(s.node, false);
    }
    this.metrics.agents.set(this.link.connectedNodes().length);
    this.log(`agent ${s.node} ${lost ? 'lost' : 'disconnected'}: ${reason}`);
  }

  onStreamError(node: string | undefined, message: string): void {
    this.metrics.streamErrors.inc({ node: node ?? 'unregistered' });
    if (node) for (const t of this.live.values()) t.summary.streamError(node, message);
    this.log(`stream error: ${message}`);
  }

  // --- queries -----------------------------------------------------------------------------

  traceNames(): string[] {
    return [...new Set([...this.store.listTraces(), ...this.live.keys()])].sort();
  }

  summary(trace: string): TraceSummary {
    const t = this.live.get(trace);
    if (!t) return this.store.summary(trace) ?? new SummaryBuilder(trace).toProto();
    return t.summary.toProto(t.sorter.stats(), {
      stored_bytes: BigInt(this.store.storedBytes(trace)),
      evicted: BigInt(this.store.evicted(trace)),
      ...(this.storeBlocked ? { store_problem: this.storeBlocked } : {}),
    });
  }

  /** A live trace's sorter totals (events waiting in its ordering window among them). */
  sorterStats(trace: string): SortStats | undefined {
    return this.live.get(trace)?.sorter.stats();
  }

  /** Stored journeys (events with their journey section), in order. */
  *journeys(trace: string, filter: { node?: string; pod?: string; dropReason?: string }): Generator<Event[]> {
    let cur: Event[] = [];
    let id: string | undefined;
    for (const { event } of this.store.events(trace, filter)) {
      const jid = event.journey?.id;
      if (cur.length && (jid !== id || event.journey?.idx === 0)) {
        yield cur;
        cur = [];
      }
      id = jid;
      cur.push(event);
    }
    if (cur.length) yield cur;
  }

  private tick(): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const t of this.live.values()) t.sorter.tick(now);
    this.store.flush();
    if (Date.now() - this.lastCheckpoint >= (this.opts.checkpointMs ?? 500)) this.checkpoint();
    if (Date.now() - this.lastSave > 2000) this.saveSummaries();
  }

  /**
   * A checkpoint: the store synced, the checkpoint written, then every batch wholly stored when it
   * began acknowledged. The waits on the disk (the segments' and directories' fsyncs) are the
   * thread pool's: events keep coming in meanwhile, and the next checkpoint begins once this one
   * is done. While the disk refuses, nothing more is acknowledged: agents hold their events, then
   * count what their bound makes them drop, and the summary says why.
   */
  private checkpoint(): void {
    if (this.syncing) return; // the last one is still syncing: a later tick
    this.lastCheckpoint = Date.now();
    if (!(this.opts.durableAcks ?? true)) return this.checkpointNow();
    const generation = ++this.generation;
    try {
      const sync = this.store.syncInBackground(); // the store written as of now
      // This moment's state: acknowledged once the store as of now is synced and the checkpoint says so.
      const { extents } = sync;
      const prepared = this.ledger.prepare();
      const summaries = this.liveSummaries();
      this.syncing = true;
      sync.fsync((err) => {
        if (generation !== this.generation) return; // close() made a checkpoint of its own since
        this.syncing = false;
        if (err) return this.refused(err);
        try {
          writeCheckpoint(this.store, { extents, summaries, ledger: prepared.state() });
        } catch (e) {
          return this.refused(e);
        }
        this.ledger.commit(prepared);
        this.acknowledge(prepared.acks);
      });
    } catch (e) {
      this.refused(e);
    }
  }

  /** A checkpoint made at once, waiting on the disk (closing), or acknowledging without syncing (durableAcks false). */
  private checkpointNow(): void {
    this.lastCheckpoint = Date.now();
    try {
      const durable = this.opts.durableAcks ?? true;
      if (durable) this.store.sync();
      const { acks, state } = this.ledger.advance();
      if (durable)
        writeCheckpoint(this.store, { extents: this.store.extents(), summaries: this.liveSummaries(), ledger: state });
      this.acknowledge(acks);
    } catch (e) {
      this.refused(e);
    }
  }

  private liveSummaries(): Record<string, TraceSummary> {
    const summaries: Record<string, TraceSummary> = {};
    for (const name of this.live.keys()) summaries[name] = this.summary(name);
    return summaries;
  }

  private acknowledge(acks: LedgerAck[]): void {
    for (const a of acks) this.link.ack(a.node, a.incarnation, a.trace, a.seq);
    if (this.storeBlocked) this.log(`the store writes again: acknowledging batches again`);
    this.storeBlocked = undefined;
    this.metrics.storeBlocked.set(0);
  }

  /** The disk refused a checkpoint's write or sync: nothing is acknowledged until one works. */
  private refused(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    if (!(e instanceof StoreWriteError) && !err.code) throw e;
    const why = e instanceof StoreWriteError ? e.message : `checkpoint not written: ${err.message}`;
    if (why !== this.storeBlocked)
      this.log(`error: ${why}; batches are not acknowledged until it can (agents hold them)`);
    this.storeBlocked = why;
    this.metrics.storeErrors.inc();
    this.metrics.storeBlocked.set(1);
  }

  /** Saves each live trace's summary to its meta.json, in the background (readers of the store). */
  private saveSummaries(): void {
    this.lastSave = Date.now();
    const summaries = [...this.live.keys()].map((name): [string, TraceSummary] => [name, this.summary(name)]);
    this.store.saveInBackground(summaries, []);
  }

  /** Releases everything buffered, saves, closes the store. */
  close(): void {
    clearInterval(this.timer);
    for (const t of this.live.values()) t.sorter.flush();
    // A checkpoint still syncing is left to itself (its fsyncs change nothing): this one has it all.
    this.generation++;
    this.syncing = false;
    this.checkpointNow();
    for (const name of this.live.keys()) this.store.saveSummary(name, this.summary(name));
    this.store.close();
  }
}
