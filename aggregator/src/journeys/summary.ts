// What `retrace traces` and the Trace status show about a trace: per node (state, probes and why
// those that failed did, events, losses by cause, batches that never arrived), the sorter's
// totals, what the store holds, the most frequent drop reasons with one example packet each, and
// drops by reason, node and pod, so that a user sees at a glance where packets die and whether
// the picture is complete.
import {
  formatEvent,
  type CauseCount,
  type DropPlace,
  type Event,
  type NodeStatus,
  type NodeSummary,
  type ProbeResult,
  type SeqGap,
  type TraceSummary,
} from '@retrace/events';
import type { SortStats } from './journey-sorter.js';
import type { Journey } from './sorted-event.js';
import type { SortKeys } from './sort-keys.js';

export const NODE_STATES = ['attaching', 'running', 'complete', 'failed', 'lost', 'restarted'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export class SummaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SummaryError';
  }
}

export interface SummaryOptions {
  /** Drop reasons listed (the most frequent first; default 10). */
  topDrops?: number;
  /** Sequence gaps kept per node (the first ones; default 100). */
  maxGaps?: number;
  /** Failed probes listed per node with their reason (the first ones; default 20). */
  maxFailedProbes?: number;
  /**
   * Drop places (reason, node, pod) listed, the most frequent first (default 200). Up to four
   * times as many are counted; past that, all but the most frequent are folded into their
   * reason's "elsewhere" count, which the summary lists after the places.
   */
  maxDropPlaces?: number;
}

/** Totals of an earlier run of the aggregator, continued from its saved summary. */
type Totals = Pick<TraceSummary, 'series' | 'journeys' | 'stitched' | 'unstitched' | 'late'>;

interface NodeEntry {
  summary: NodeSummary;
  lost: Map<string, bigint>;
}

function emptyNode(node: string): NodeSummary {
  return {
    node,
    state: 'attaching',
    probes_attached: 0,
    probes_failed: 0,
    events: 0n,
    lost: 0n,
    lost_by_cause: [],
    gaps: [],
    error: '',
    kernel_release: '',
    events_emitted: 0n,
    ring_fill: 0,
    failed_probes: [],
  };
}

/** `namespace/name` of the pod the event was in, '' when none (as the store's pod index has it). */
function podOf(k: Pick<SortKeys, 'namespace' | 'pod'>): string {
  if (!k.pod) return '';
  return k.namespace ? `${k.namespace}/${k.pod}` : k.pod;
}

/** Most frequent first; then by reason, node and pod, so that the order is stable. */
function byCount(a: DropPlace, b: DropPlace): number {
  if (a.count !== b.count) return a.count > b.count ? -1 : 1;
  for (const k of ['reason', 'node', 'pod'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

/** `[node namespace/pod] ` before an example event, so that the reader knows where it was. */
export function whereLabel(node: string, ev: Event): string {
  const k = ev.k8s;
  const pod = k?.pod ? ` ${k.namespace ? `${k.namespace}/` : ''}${k.pod}` : '';
  return `[${node}${pod}]`;
}

export class SummaryBuilder {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly drops = new Map<string, { count: bigint; example: string }>();
  /** Drops by place, keyed by reason, node and pod joined with NUL. */
  private readonly places = new Map<string, DropPlace>();
  /** Per reason, the drops at places no longer (or never) in `places`. */
  private readonly elsewhere = new Map<string, bigint>();
  private readonly before: Totals;
  private readonly topDrops: number;
  private readonly maxGaps: number;
  private readonly maxFailedProbes: number;
  private readonly maxDropPlaces: number;

  /** `previous`: the trace's saved summary, when the aggregator restarts (counts go on). */
  constructor(
    readonly trace: string,
    previous?: TraceSummary,
    opts: SummaryOptions = {},
  ) {
    this.topDrops = opts.topDrops ?? 10;
    this.maxGaps = opts.maxGaps ?? 100;
    this.maxFailedProbes = opts.maxFailedProbes ?? 20;
    this.maxDropPlaces = Math.max(1, opts.maxDropPlaces ?? 200);
    for (const n of previous?.nodes ?? []) {
      const lost = new Map((n.lost_by_cause ?? []).map((c): [string, bigint] => [c.cause, c.count]));
      this.nodes.set(n.node, { summary: { ...emptyNode(n.node), ...n }, lost });
    }
    for (const d of previous?.drops ?? []) this.drops.set(d.reason, { count: d.count, example: d.example });
    for (const p of previous?.drop_places ?? []) {
      if (p.node) this.places.set(placeKey(p.reason, p.node, p.pod), { ...p });
      else this.elsewhere.set(p.reason, (this.elsewhere.get(p.reason) ?? 0n) + p.count);
    }
    this.before = {
      series: previous?.series ?? 0n,
      journeys: previous?.journeys ?? 0n,
      stitched: previous?.stitched ?? 0n,
      unstitched: previous?.unstitched ?? 0n,
      late: previous?.late ?? 0n,
    };
  }

  /** Updates a node's fields (state, kernel_release, probes_attached, error...). */
  node(node: string, patch: Partial<NodeSummary>): void {
    if (patch.state !== undefined && !(NODE_STATES as readonly string[]).includes(patch.state))
      throw new SummaryError(`node state must be one of ${NODE_STATES.join(', ')}; got ${JSON.stringify(patch.state)}`);
    const { lost_by_cause: _ignored, ...rest } = patch; // losses go through lost(), by cause
    Object.assign(this.entry(node).summary, rest);
  }

  setState(node: string, state: NodeState, error?: string): void {
    this.node(node, error === undefined ? { state } : { state, error });
  }

  /** The probes of the node's (latest) attach results: counts, and the first failures with why. */
  probes(node: string, results: readonly Pick<ProbeResult, 'probe' | 'attached' | 'error'>[]): void {
    const failed = results.filter((p) => !p.attached);
    this.node(node, {
      probes_attached: results.length - failed.length,
      probes_failed: failed.length,
      failed_probes: failed
        .slice(0, this.maxFailedProbes)
        .map((p) => ({ probe: p.probe, reason: p.error || 'not attached (the agent gave no reason)' })),
    });
  }

  /** Events received (and handed to the sorter and the store). */
  received(node: string, count: number): void {
    this.entry(node).summary.events += BigInt(count);
  }

  /**
   * Events received that the store refused (the node's quota, the store's cap): no longer
   * counted as stored (`events` counts what the store holds), lost with `cause` instead.
   */
  refused(node: string, cause: string, count: number): void {
    const e = this.entry(node).summary;
    const n = BigInt(count);
    e.events = e.events > n ? e.events - n : 0n;
    this.lost(node, cause, n);
  }

  lost(node: string, cause: string, count: bigint): void {
    const e = this.entry(node);
    e.lost.set(cause, (e.lost.get(cause) ?? 0n) + count);
    e.summary.lost += count;
  }

  /** Batches that never arrived; the first maxGaps are kept. */
  gap(node: string, gap: SeqGap): void {
    const gaps = (this.entry(node).summary.gaps ??= []);
    if (gaps.length < this.maxGaps) gaps.push(gap);
  }

  /** The agent's periodic status: it runs, and its own counters. */
  status(node: string, st: NodeStatus): void {
    const s = this.entry(node).summary;
    s.events_emitted = st.events_emitted;
    s.ring_fill = st.ring_fill;
    if (st.probes_attached > 0) s.probes_attached = st.probes_attached;
    if (s.state === 'attaching' || s.state === 'restarted' || s.state === 'lost') s.state = 'running';
  }

  /** The node's stream ended without the trace completing. */
  nodeLost(node: string, reason: string): void {
    const s = this.entry(node).summary;
    if (s.state === 'complete' || s.state === 'failed') return;
    s.state = 'lost';
    s.error = reason;
  }

  streamError(node: string, message: string): void {
    this.entry(node).summary.error = message;
  }

  /**
   * A released journey: its drops are counted by reason (the first of each kept as the example)
   * and by place.
   */
  journey(j: Journey): void {
    for (const e of j.events) {
      const reason = e.dropReason;
      if (!reason) continue;
      this.dropAt(reason, e.k8sNode || e.node, podOf(e));
      const d = this.drops.get(reason);
      if (d) d.count++;
      else
        this.drops.set(reason, {
          count: 1n,
          example: `${whereLabel(e.node, e.event)} ${formatEvent(e.event, { format: 'single-line' })}`,
        });
    }
  }

  private dropAt(reason: string, node: string, pod: string): void {
    const key = placeKey(reason, node, pod);
    const p = this.places.get(key);
    if (p) {
      p.count++;
      return;
    }
    if (this.places.size >= 4 * this.maxDropPlaces) this.foldPlaces();
    this.places.set(key, { reason, node, pod, count: 1n });
  }

  /** Keeps the places that would be listed; the others' drops go to their reason's elsewhere. */
  private foldPlaces(): void {
    const sorted = [...this.places.values()].sort(byCount);
    for (const p of sorted.slice(this.maxDropPlaces)) {
      this.places.delete(placeKey(p.reason, p.node, p.pod));
      this.elsewhere.set(p.reason, (this.elsewhere.get(p.reason) ?? 0n) + p.count);
    }
  }

  /** The places listed, then one "elsewhere" entry (node and pod empty) per reason with more. */
  private dropPlaces(): DropPlace[] {
    const sorted = [...this.places.values()].sort(byCount);
    const listed = sorted.slice(0, this.maxDropPlaces).map((p) => ({ ...p }));
    const elsewhere = new Map(this.elsewhere);
    for (const p of sorted.slice(this.maxDropPlaces))
      elsewhere.set(p.reason, (elsewhere.get(p.reason) ?? 0n) + p.count);
    const rest = [...elsewhere].map(([reason, count]): DropPlace => ({ reason, node: '', pod: '', count }));
    return [...listed, ...rest.sort(byCount)];
  }

  /** The summary, with the sorter's totals and the store's sizes when given. */
  toProto(
    stats?: SortStats,
    store: { stored_bytes?: bigint; evicted?: bigint; store_problem?: string } = {},
  ): TraceSummary {
    const nodes = [...this.nodes.values()]
      .map(({ summary, lost }) => ({
        ...summary,
        lost_by_cause: [...lost]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([cause, count]): CauseCount => ({ cause, count })),
        gaps: [...(summary.gaps ?? [])],
        failed_probes: [...(summary.failed_probes ?? [])],
      }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const add = (k: keyof Totals, v: number | undefined): bigint => this.before[k] + BigInt(v ?? 0);
    return {
      trace: this.trace,
      nodes,
      events: nodes.reduce((n, x) => n + x.events, 0n),
      lost: nodes.reduce((n, x) => n + x.lost, 0n),
      series: add('series', stats?.series),
      journeys: add('journeys', stats?.journeys),
      stitched: add('stitched', stats?.stitched),
      unstitched: add('unstitched', stats?.unstitched),
      late: add('late', stats?.late),
      drops: [...this.drops]
        .sort(([ra, a], [rb, b]) => (a.count !== b.count ? (a.count > b.count ? -1 : 1) : ra < rb ? -1 : 1))
        .slice(0, this.topDrops)
        .map(([reason, d]) => ({ reason, count: d.count, example: d.example })),
      drop_places: this.dropPlaces(),
      stored_bytes: store.stored_bytes ?? 0n,
      evicted: store.evicted ?? 0n,
      store_problem: store.store_problem ?? '',
    };
  }

  private entry(node: string): NodeEntry {
    let e = this.nodes.get(node);
    if (!e) {
      e = { summary: emptyNode(node), lost: new Map() };
      this.nodes.set(node, e);
    }
    return e;
  }
}

function placeKey(reason: string, node: string, pod: string): string {
  return `${reason}\0${node}\0${pod}`;
}
