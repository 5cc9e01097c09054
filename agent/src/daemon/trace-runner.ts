// One assigned trace on this node: runs a tracing session with the trace's collectors, probes and
// filters, scopes it in the kernel to its pods' network namespaces when it is namespaced, adds
// node/pod/container to events, enforces the node limits and hands encoded events to the link.
import { type AttachResults, type Event, type NodeStatus, type PodRef, type TraceSpec } from '@retrace/events';
import type { TracingSession, SessionCounts } from '../session/session.js';
import type { SessionPool, SessionUser } from './session-pool.js';
import type { BatchQueue } from '../link/batch-queue.js';
import { TraceLimits } from './trace-limits.js';
import { applyProfile, checkPacketFilter, profileDirs, type KernelFacts } from '@retrace/spec';
import { runningKernel } from '../kernel-facts.js';
import { packetFilterChecker } from '../filter/filter-checker.js';

export interface PodContext {
  namespace: string;
  pod: string;
  container?: string;
}

/** How events and namespaces are related to pods (the pod mapper, or a stand-in). */
export interface PodLookup {
  /** The pod whose network namespace this is. */
  lookup(netnsInum: number): PodContext | undefined;
  /** The pod whose veth has this host-side interface index. */
  lookupHostIfindex(ifindex: number): PodContext | undefined;
  /** Network namespaces of these pods (those found on this node). */
  netnsOf(pods: readonly PodRef[]): number[];
}

export interface RunnerDeps {
  node: string;
  queue: BatchQueue;
  pods: PodLookup;
  /**
   * Network namespaces that make up this node when it is not the whole machine (tests run
   * several "nodes" on one host): every trace is limited to them and its pods'.
   */
  nodeNetns?: readonly number[];
  /** Sends the trace's completion (limits reached, or the session failed). */
  onComplete: (reason: string) => void;
  onNote?: (msg: string) => void;
  /** Where sessions come from: traces asking for the same one share it. */
  sessions: SessionPool;
  /** This node's kernel, as profiles' conditions see it (default: the running one). */
  kernel?: KernelFacts;
  /** Where profiles are looked for (default: the standard search path). */
  profileDirs?: readonly string[];
}

/** The event whose k8s section was set last (traces sharing a session are handed the same one). */
let lastWithK8s: Event | undefined;

export class TraceRunner implements SessionUser {
  private session: TracingSession | undefined;
  private readonly limits: TraceLimits;
  private emitted = 0n;
  private budgetDrops = 0;
  private lastRingLost = new Map<string, number>();
  private durationTimer: NodeJS.Timeout | undefined;
  private scope: number[] | undefined;
  done = false;
  readonly notes: string[] = [];

  constructor(
    readonly spec: TraceSpec,
    private readonly deps: RunnerDeps,
  ) {
    this.limits = new TraceLimits(spec.limits);
  }

  /** Starts the session, or joins one already running the same; the result is what the aggregator is told. */
  start(): AttachResults {
    let s = this.spec;
    const scope = this.netnsScope();
    let notes: string[];
    let shared: boolean;
    try {
      // The operator cannot compile the trace's packet filter (it has no libpcap): a filter
      // libpcap refuses fails the trace as spec.packetFilter, which its status then says.
      if (s.filter) checkPacketFilter(s.filter, packetFilterChecker);
      // A profile is expanded here, against this node's own kernel.
      if (s.profile) {
        const profiled = applyProfile(s, this.deps.kernel ?? runningKernel(), this.deps.profileDirs ?? profileDirs());
        s = profiled.spec;
        for (const n of profiled.notes) this.onNote(n);
      }
      ({
        session: this.session,
        notes,
        shared,
      } = this.deps.sessions.acquire(
        {
          collectors: s.collectors?.length ? s.collectors : ['auto'],
          probes: s.probes ?? [],
          stack: s.stack,
          ...(s.filter ? { filter: s.filter } : {}),
          ...(s.meta_filter ? { metaFilter: s.meta_filter } : {}),
          ...(scope ? { netns: scope } : {}),
          allowSystemChanges: s.allow_system_changes,
          ovsTrack: s.ovs_track,
          ovsEnrichFlows: s.ovs_enrich_flows,
          ...(s.ovs_enrich_rate ? { ovsEnrichRate: s.ovs_enrich_rate } : {}),
          ...(s.skb_sections?.length ? { skbSections: new Set(s.skb_sections) } : {}),
          ...(s.nft_verdicts ? { nftVerdicts: s.nft_verdicts } : {}),
        },
        this,
      ));
    } catch (e) {
      this.done = true;
      return { trace: s.name, ok: false, error: (e as Error).message, probes: [], notes: this.notes };
    }
    for (const m of notes) this.onNote(m);
    if (shared)
      this.onNote('sharing the kernel probes of a running trace with the same collectors, probes, filters and scope');
    this.scope = scope;
    if (this.limits.durationMs > 0)
      this.durationTimer = setTimeout(() => this.finish('duration'), this.limits.durationMs);
    const session = this.session;
    return {
      trace: s.name,
      ok: true,
      error: '',
      probes: [
        ...session.probes
          .filter((p) => !p.silent)
          .map((p) => ({ probe: p.spec, attached: true, mechanism: p.mechanism, error: '' })),
        // Wildcard matches the kernel refused: the trace runs without them, the status names them.
        ...session.refusedProbes.map((r) => ({ probe: r.probe, attached: false, mechanism: '', error: r.reason })),
      ],
      notes: [...this.notes, ...session.skippedCollectors.map((c) => `collector ${c.name} not started: ${c.reason}`)],
    };
  }

  /** A note from the session (SessionUser). */
  onNote(m: string): void {
    this.notes.push(m);
    this.deps.onNote?.(`${this.spec.name}: ${m}`);
  }

  /** The network namespaces events may come from, or undefined for the whole node. */
  private netnsScope(): number[] | undefined {
    const pods = this.deps.pods.netnsOf(this.spec.pods ?? []);
    if (this.spec.namespaced) return pods;
    if (this.deps.nodeNetns) return [...new Set([...this.deps.nodeNetns, ...pods])];
    return undefined;
  }

  /** Pods come and go: the kernel's scope follows. */
  refreshScope(): void {
    if (!this.session || this.done || !this.scope) return;
    const next = this.netnsScope() ?? [];
    const same = next.length === this.scope.length && next.every((n) => this.scope?.includes(n));
    if (same) return;
    this.scope = next;
    const before = this.session;
    this.session = this.deps.sessions.rescope(this, next);
    if (this.session !== before) this.lastRingLost.clear(); // another session: its own counters
  }

  /** An event of the session (SessionUser); shared sessions hand each event to every trace on them. */
  onEvent(ev: Event): void {
    if (this.done) return;
    const verdict = this.limits.admit();
    if (verdict === 'over-budget') {
      this.budgetDrops++;
      return;
    }
    if (verdict === 'max-events') {
      setImmediate(() => this.finish('max-events'));
      return;
    }
    this.emitted++;
    if (lastWithK8s !== ev) {
      ev.k8s = this.k8sOf(ev);
      lastWithK8s = ev;
    }
    this.deps.queue.addEvent(ev); // encoded straight into the trace's next batch
    if (this.limits.exhausted) setImmediate(() => this.finish('max-events'));
  }

  private k8sOf(ev: Event): NonNullable<Event['k8s']> {
    const inum = ev.netns?.inum;
    let pod = inum !== undefined ? this.deps.pods.lookup(inum) : undefined;
    if (!pod && ev.dev?.ifindex) pod = this.deps.pods.lookupHostIfindex(ev.dev.ifindex);
    return pod
      ? {
          node: this.deps.node,
          namespace: pod.namespace,
          pod: pod.pod,
          ...(pod.container ? { container: pod.container } : {}),
        }
      : { node: this.deps.node };
  }

  /** Ring buffer losses since the last call go into the next batch; budget drops are reported. */
  collectLosses(): { budget: number } {
    const c = this.session?.counts();
    if (c)
      for (const p of c.perProbe) {
        const key = `${p.probeType}/${p.symbol}`;
        const prev = this.lastRingLost.get(key) ?? 0;
        if (p.lost > prev) this.deps.queue.addRingLoss(key, p.lost - prev);
        this.lastRingLost.set(key, p.lost);
      }
    const budget = this.budgetDrops;
    this.budgetDrops = 0;
    return { budget };
  }

  status(): NodeStatus {
    const c: SessionCounts | undefined = this.session?.counts();
    const q = this.deps.queue.totals;
    return {
      trace: this.spec.name,
      probes_attached: this.session?.probes.filter((p) => !p.silent).length ?? 0,
      events_emitted: this.emitted,
      events_sent: BigInt(q.sent),
      events_lost: BigInt((c?.lost ?? 0) + q.dropped),
      ring_fill: this.session?.ringFill() ?? 0,
      followed: 0,
    };
  }

  /** Stops the session (limits reached, trace removed, agent stopping). */
  finish(reason: string): void {
    if (this.done && !this.session) return;
    this.done = true;
    if (this.durationTimer) clearTimeout(this.durationTimer);
    this.collectLosses();
    this.deps.sessions.release(this);
    this.session = undefined;
    this.deps.queue.cut();
    this.deps.onComplete(reason);
  }
}
