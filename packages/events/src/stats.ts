// `retrace stats`: what a capture holds (like `retis stats`), computed in one pass.
import type { ClockOffset, Event } from './gen/event.js';
import { formatUtc } from './time.js';
import { trackingId } from './tracking.js';

export interface EventStats {
  /** retrace version, else retis version, of the startup event. */
  version?: string;
  cmdline?: string;
  clockOffset?: ClockOffset;
  firstTimestamp?: bigint;
  lastTimestamp?: bigint;
  /** Every event read, the startup event included (as retis counts). */
  events: number;
  /** Distinct skb tracking ids. */
  series: number;
  /** Hits per probe, keyed `{probe_type}/{symbol}`. */
  byProbe: Map<string, number>;
  /** Events the probes could not report (sum of `lost` events). */
  lost: bigint;
}

/** Accumulates stats one event at a time (for streams); `collectStats` for an in-memory list. */
export class StatsCollector {
  private readonly ids = new Set<string>();
  private readonly stats: EventStats = { events: 0, series: 0, byProbe: new Map(), lost: 0n };

  add(item: Event | Event[]): void {
    for (const ev of Array.isArray(item) ? item : [item]) this.addOne(ev);
  }

  result(): EventStats {
    return { ...this.stats, series: this.ids.size, byProbe: new Map(this.stats.byProbe) };
  }

  private addOne(ev: Event): void {
    const s = this.stats;
    s.events++;
    if (ev.startup) {
      s.version ??= ev.startup.retrace_version || ev.startup.retis_version || undefined;
      s.cmdline ??= ev.startup.cmdline || undefined;
      s.clockOffset ??= ev.startup.clock_monotonic_offset;
    }
    const ts = ev.common?.timestamp;
    if (typeof ts === 'bigint') {
      if (s.firstTimestamp === undefined || ts < s.firstTimestamp) s.firstTimestamp = ts;
      if (s.lastTimestamp === undefined || ts > s.lastTimestamp) s.lastTimestamp = ts;
    }
    const probe = ev.kernel ?? ev.userspace;
    if (probe) {
      const key = `${probe.probe_type}/${probe.symbol}`;
      s.byProbe.set(key, (s.byProbe.get(key) ?? 0) + 1);
    }
    const st = ev['skb-tracking'] ?? ev.tracking?.skb;
    if (st) this.ids.add(trackingId(st));
    if (ev.lost && typeof ev.lost.count === 'bigint') s.lost += ev.lost.count;
  }
}

export function collectStats(events: Iterable<Event | Event[]>): EventStats {
  const c = new StatsCollector();
  for (const e of events) c.add(e);
  return c.result();
}

function when(ts: bigint, offset: ClockOffset | undefined): string {
  return offset ? `${ts} (${formatUtc(ts, offset)})` : ts.toString();
}

/** Text report; probes sorted by name. */
export function formatStats(s: EventStats): string {
  const lines: string[] = [];
  if (s.version) lines.push(`Version: ${s.version}`);
  if (s.cmdline) lines.push(`Command line: ${s.cmdline}`);
  if (s.firstTimestamp !== undefined) lines.push(`First event: ${when(s.firstTimestamp, s.clockOffset)}`);
  if (s.lastTimestamp !== undefined) lines.push(`Last event: ${when(s.lastTimestamp, s.clockOffset)}`);
  lines.push(`Number of events: ${s.events}`);
  lines.push(`Number of series: ${s.series}`);
  if (s.lost > 0n) lines.push(`Lost events: ${s.lost}`);
  lines.push('Probes:');
  for (const [probe, n] of [...s.byProbe].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    lines.push(`  ${probe}: ${n}`);
  return lines.join('\n');
}
