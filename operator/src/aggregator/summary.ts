// What `retrace traces` and the Trace status show about a trace: per node (state, probes, events,
// losses by cause, batches that never arrived), the sorter's totals, what the store holds, and
// the most frequent drop reasons with one example packet each, so that a user sees at a glance
// where packets die and whether the picture is complete.
import {
  formatEvent,
  type CauseCount,
  type Event,
  type NodeStatus,
  type NodeSummary,
  type SeqGap,
  type TraceSummary,
} from '@retrace/events';
import type { Journey, SortStats } from './journey-sorter.js';

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
  };
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
  private readonly before: Totals;
  private readonly topDrops: number;
  private readonly maxGaps: number;

  /** `previous`: the trace's saved summary, when the aggregator restarts (counts go on). */
  constructor(
    readonly trace: string,
    previous?: TraceSummary,
    opts: SummaryOptions = {},
  ) {
    this.topDrops = opts.topDrops ?? 10;
    this.maxGaps = opts.maxGaps ?? 100;
    for (const n of previous?.nodes ?? []) {
      const lost = new Map((n.lost_by_cause ?? []).map((c): [string, bigint] => [c.cause, c.count]));
      this.nodes.set(n.node, { summary: { ...emptyNode(n.node), ...n }, lost });
    }
    for (const d of previous?.drops ?? []) this.drops.set(d.reason, { count: d.count, example: d.example });
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

  /** Probes of the node's attach results. */
  probes(node: string, attached: number, failed: number): void {
    this.node(node, { probes_attached: attached, probes_failed: failed });
  }

  /** Events received (and handed to the sorter and the store). */
  received(node: string, count: number): void {
    this.entry(node).summary.events += BigInt(count);
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

  /** A released journey: its drops are counted, the first of each reason kept as the example. */
  journey(j: Journey): void {
    for (const e of j.events) {
      const reason = e.keys.dropReason;
      if (!reason) continue;
      const d = this.drops.get(reason);
      if (d) d.count++;
      else
        this.drops.set(reason, {
          count: 1n,
          example: `${whereLabel(e.node, e.event)} ${formatEvent(e.event, { format: 'single-line' })}`,
        });
    }
  }

  /** The summary, with the sorter's totals and the store's sizes when given. */
  toProto(stats?: SortStats, store: { stored_bytes?: bigint; evicted?: bigint } = {}): TraceSummary {
    const nodes = [...this.nodes.values()]
      .map(({ summary, lost }) => ({
        ...summary,
        lost_by_cause: [...lost]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([cause, count]): CauseCount => ({ cause, count })),
        gaps: [...(summary.gaps ?? [])],
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
      stored_bytes: store.stored_bytes ?? 0n,
      evicted: store.evicted ?? 0n,
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
