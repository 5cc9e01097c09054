// A trace's summary as the aggregator keeps it: per node (state, probes, events, losses by
// cause, sequence gaps, the agent's own counters), totals from the sorter, and the top drop
// reasons with one example packet each.
import { formatEvent, type NodeStatus, type NodeSummary, type SeqGap, type TraceSummary } from '@retrace/events';
import type { Journey, SortStats } from '../aggregator/index.js';

const MAX_GAPS = 50;
const TOP_DROPS = 10;

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

export class SummaryBuilder {
  private readonly nodes = new Map<string, NodeSummary>();
  private readonly drops = new Map<string, { count: bigint; example: string }>();
  private readonly base: Pick<TraceSummary, 'events' | 'series' | 'journeys' | 'stitched' | 'unstitched' | 'late'>;

  constructor(
    readonly trace: string,
    previous?: TraceSummary,
  ) {
    // A restarted aggregator goes on from what it had saved.
    for (const n of previous?.nodes ?? []) this.nodes.set(n.node, { ...emptyNode(n.node), ...n });
    for (const d of previous?.drops ?? []) this.drops.set(d.reason, { count: d.count, example: d.example });
    this.base = {
      events: 0n,
      series: previous?.series ?? 0n,
      journeys: previous?.journeys ?? 0n,
      stitched: previous?.stitched ?? 0n,
      unstitched: previous?.unstitched ?? 0n,
      late: previous?.late ?? 0n,
    };
  }

  private n(node: string): NodeSummary {
    let s = this.nodes.get(node);
    if (!s) {
      s = emptyNode(node);
      this.nodes.set(node, s);
    }
    return s;
  }

  node(node: string, patch: Partial<NodeSummary>): void {
    Object.assign(this.n(node), patch);
  }

  received(node: string, count: number): void {
    this.n(node).events += BigInt(count);
  }

  lost(node: string, cause: string, count: bigint): void {
    const s = this.n(node);
    s.lost += count;
    const c = s.lost_by_cause?.find((x) => x.cause === cause);
    if (c) c.count += count;
    else (s.lost_by_cause ??= []).push({ cause, count });
  }

  gap(node: string, gap: SeqGap): void {
    const s = this.n(node);
    if ((s.gaps ??= []).length < MAX_GAPS) s.gaps.push(gap);
  }

  status(node: string, st: NodeStatus): void {
    const s = this.n(node);
    s.events_emitted = st.events_emitted;
    s.ring_fill = st.ring_fill;
    if (s.state === 'attaching' || s.state === 'restarted' || s.state === 'lost') s.state = 'running';
  }

  nodeLost(node: string, reason: string): void {
    const s = this.n(node);
    if (s.state !== 'complete' && s.state !== 'failed') {
      s.state = 'lost';
      s.error = reason;
    }
  }

  streamError(node: string, message: string): void {
    this.n(node).error = message;
  }

  journey(j: Journey): void {
    for (const e of j.events) {
      const reason = e.event['skb-drop']?.drop_reason;
      if (!reason) continue;
      const d = this.drops.get(reason);
      if (d) d.count++;
      else {
        const where = `${e.node}${e.event.k8s?.pod ? ` ${e.event.k8s.namespace}/${e.event.k8s.pod}` : ''}`;
        this.drops.set(reason, { count: 1n, example: `[${where}] ${formatEvent(e.event, { format: 'single-line' })}` });
      }
    }
  }

  toProto(stats?: SortStats, extra: { stored_bytes?: bigint; evicted?: bigint } = {}): TraceSummary {
    const nodes = [...this.nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
    const events = nodes.reduce((n, x) => n + x.events, 0n);
    const lost = nodes.reduce((n, x) => n + x.lost, 0n);
    const add = (k: keyof typeof this.base, v: number | undefined): bigint => this.base[k] + BigInt(v ?? 0);
    return {
      trace: this.trace,
      nodes,
      events,
      lost,
      series: add('series', stats?.series),
      journeys: add('journeys', stats?.journeys),
      stitched: add('stitched', stats?.stitched),
      unstitched: add('unstitched', stats?.unstitched),
      late: add('late', stats?.late),
      drops: [...this.drops]
        .sort((a, b) => (a[1].count > b[1].count ? -1 : a[1].count < b[1].count ? 1 : 0))
        .slice(0, TOP_DROPS)
        .map(([reason, d]) => ({ reason, count: d.count, example: d.example })),
      stored_bytes: extra.stored_bytes ?? 0n,
      evicted: extra.evicted ?? 0n,
    };
  }
}
