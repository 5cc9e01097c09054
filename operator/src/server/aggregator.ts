// The aggregator: receives every agent's stream, puts node times on one clock, sorts events into
// per-packet journeys across nodes behind a lateness watermark, stores them per trace, keeps
// per-trace summaries and metrics, and answers queries.
import { ProtoDecodeError, type Event, type TraceSpec, type TraceSummary } from '@retrace/events';
import { ClusterClock, JourneySorter, SortedEvent, type Journey } from '../aggregator/index.js';
import { SummaryBuilder } from '../aggregator/summary.js';
import { TraceStore } from '../aggregator/trace-store.js';
import { AgentLinkServer, type AgentStream, type LinkHandler } from './agent-link-server.js';
import { AggregatorMetrics } from './aggregator-metrics.js';
import { runsOn, specForNode } from './trace-file.js';

export interface AggregatorOptions {
  storeDir: string;
  storeCapBytes?: number;
  latenessMs?: number;
  maxBufferedEvents?: number;
  heartbeatMs?: number;
  deadlineMs?: number;
  /** Delay before each batch is taken in (tests of a slow aggregator). */
  ingestDelayMs?: number;
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
  private readonly log: (m: string) => void;

  constructor(private readonly opts: AggregatorOptions) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.store = TraceStore.open(opts.storeDir, {
      ...(opts.storeCapBytes ? { capBytes: opts.storeCapBytes } : {}),
      onWarning: (m: string) => this.log(`warning: ${m}`),
    });
    this.link = new AgentLinkServer(this, {
      heartbeatMs: opts.heartbeatMs ?? 1000,
      deadlineMs: opts.deadlineMs ?? 5000,
      ...(opts.ingestDelayMs ? { ingestDelayMs: opts.ingestDelayMs } : {}),
    });
    const saved = this.store.state('cursors');
    if (saved) this.link.loadCursors(saved as Parameters<AgentLinkServer['loadCursors']>[0]);
    this.timer = setInterval(() => this.tick(), 250);
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
      const summary = new SummaryBuilder(name, this.store.summary(name));
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
    t.summary.journey(j);
    this.metrics.journeys.inc({ stitched: j.nodes.length > 1 ? 'true' : 'false' });
    for (const e of j.events) {
      if (e.late) this.metrics.late.inc();
      const reason = e.dropReason;
      if (reason) this.metrics.drops.inc({ reason });
    }
  }

  // --- LinkHandler -------------------------------------------------------------------------

  tracesFor(node: string): TraceSpec[] {
    return this.specs.filter((s) => runsOn(s, node)).map((s) => specForNode(s, node));
  }

  onRegister(s: AgentStream, previousIncarnation: string | undefined): void {
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
  ): string | undefined {
    const t = this.trace(trace);
    let bad = 0;
    let firstError = '';
    for (const raw of events) {
      let e: SortedEvent;
      try {
        e = new SortedEvent(s.node, raw);
      } catch (err) {
        if (!(err instanceof ProtoDecodeError)) throw err;
        bad++;
        firstError ||= err.message;
        continue;
      }
      t.sorter.push(e);
    }
    const good = events.length - bad;
    t.summary.received(s.node, good);
    this.metrics.received.inc({ node: s.node }, good);
    for (const l of lost) {
      t.summary.lost(s.node, 'ring', l.count);
      this.metrics.lost.inc({ node: s.node, cause: 'ring' }, Number(l.count));
    }
    if (bad) {
      t.summary.lost(s.node, 'malformed', BigInt(bad));
      this.metrics.lost.inc({ node: s.node, cause: 'malformed' }, bad);
      const problem = `batch ${seq} of ${trace}: ${bad} event(s) could not be decoded (${firstError})`;
      this.onStreamError(s.node, problem);
      return problem;
    }
    return undefined;
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
    });
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
    if (Date.now() - this.lastSave > 2000) this.save(false);
  }

  /** Saves summaries and cursors: in the background while running, at once on close. */
  private save(now: boolean): void {
    this.lastSave = Date.now();
    const summaries = [...this.live.keys()].map((name): [string, TraceSummary] => [name, this.summary(name)]);
    const cursors = this.link.saveCursors();
    if (!now) {
      this.store.saveInBackground(summaries, [['cursors', cursors]]);
      return;
    }
    for (const [name, s] of summaries) this.store.saveSummary(name, s);
    this.store.saveState('cursors', cursors);
  }

  /** Releases everything buffered, saves, closes the store. */
  close(): void {
    clearInterval(this.timer);
    for (const t of this.live.values()) t.sorter.flush();
    this.save(true);
    this.store.close();
  }
}
