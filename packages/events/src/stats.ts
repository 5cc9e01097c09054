// `retrace stats`: what a capture holds, as `retis stats` counts and prints it (scripts grep its
// labels). One block per startup event, so a rotated set read as one input gives one block per
// file ("Split index: N"). The startup event is no event of the capture; an event without a
// timestamp or a probe is counted as an error, not an event; retrace's `lost` records are summed.
import type { ClockOffset, Event, Startup } from './gen/event.js';
import { toWallClockNs } from './time.js';

/** The counts of one file (one startup event and what follows it). */
export interface FileStats {
  /** Undefined for events before any startup event (a file cut at its head). */
  startup?: Partial<Startup>;
  /** Series (lines of a sorted file); 0 for a file of events. */
  series: number;
  /** Events of the capture: the startup event is not one. */
  events: number;
  /** The first event's timestamp (as read, not the smallest) and the largest. */
  firstTimestamp?: bigint;
  lastTimestamp?: bigint;
  /** Hits per probe, keyed `{probe_type}/{symbol}`. */
  byProbe: Map<string, number>;
  /** Events that could not be counted, by why. */
  errors: Map<string, number>;
  /** Events the probes could not report (sum of retrace's `lost` records). */
  lost: bigint;
}

export interface EventStats {
  files: FileStats[];
}

const newFile = (startup?: Partial<Startup>): FileStats => ({
  ...(startup ? { startup } : {}),
  series: 0,
  events: 0,
  byProbe: new Map(),
  errors: new Map(),
  lost: 0n,
});

const bump = (m: Map<string, number>, k: string): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};

/** Accumulates stats one line (event or series) at a time; `collectStats` for an in-memory list. */
export class StatsCollector {
  private readonly files: FileStats[] = [];

  /** One line of the input: an event, or a series (an array: one line of a sorted file). */
  add(item: Event | Event[]): void {
    if (Array.isArray(item)) this.addSeries(item);
    else if (item.startup) this.files.push(newFile(item.startup));
    else this.addEvent(this.current(), item);
  }

  result(): EventStats {
    return { files: this.files.map((f) => ({ ...f, byProbe: new Map(f.byProbe), errors: new Map(f.errors) })) };
  }

  private current(): FileStats {
    let f = this.files[this.files.length - 1];
    if (!f) this.files.push((f = newFile()));
    return f;
  }

  private addSeries(series: Event[]): void {
    const startup = series[0]?.startup;
    // A sorted file starts with its startup event as a series of its own; sorted files are not split.
    if (startup) {
      if (!this.files.length) this.files.push(newFile(startup));
      return;
    }
    const f = this.current();
    f.series++;
    for (const ev of series) this.addEvent(f, ev);
  }

  private addEvent(f: FileStats, ev: Event): void {
    if (ev.startup) return;
    const ts = ev.common?.timestamp;
    if (typeof ts !== 'bigint') {
      bump(f.errors, 'Invalid event: no common section');
      return;
    }
    const probe = ev.kernel ?? ev.userspace;
    if (!probe) {
      if (ev.lost) f.lost += typeof ev.lost.count === 'bigint' ? ev.lost.count : 0n;
      else bump(f.errors, 'Invalid event: no kernel or userspace section');
      return;
    }
    bump(f.byProbe, `${probe.probe_type}/${probe.symbol}`);
    f.firstTimestamp ??= ts;
    if (f.lastTimestamp === undefined || ts > f.lastTimestamp) f.lastTimestamp = ts;
    f.events++;
  }
}

export function collectStats(events: Iterable<Event | Event[]>): EventStats {
  const c = new StatsCollector();
  for (const e of events) c.add(e);
  return c.result();
}

/** retis's date of an event: `YYYY-MM-DD HH:MM:SS.uuuuuu` UTC; the monotonic ns without an offset. */
function dateOf(ts: bigint, offset: ClockOffset | undefined): string {
  if (!offset) return ts.toString();
  const wall = toWallClockNs(ts, offset);
  const NS = 1_000_000_000n;
  let sec = wall / NS;
  let ns = wall % NS;
  if (ns < 0n) {
    ns += NS;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${(ns / 1000n).toString().padStart(6, '0')}`;
}

function formatFile(f: FileStats, lines: string[]): void {
  const s = f.startup;
  const common = (): void => {
    if (!s) return;
    lines.push(`Retis version: ${s.retis_version ?? ''}`);
    lines.push(`Retis cmdline: ${s.cmdline ?? ''}`);
    if (s.retrace_version) lines.push(`Retrace version: ${s.retrace_version}`);
  };
  const split = s?.split_file;
  if (split) {
    if (split.id === 0) common();
    lines.push('', `Split index: ${split.id}`);
  } else common();
  if (f.series > 0) lines.push(`Number of series: ${f.series}`);
  lines.push(`Number of events: ${f.events}`);
  const offset = s?.clock_monotonic_offset;
  if (f.firstTimestamp !== undefined) lines.push(`First event at: ${dateOf(f.firstTimestamp, offset)}`);
  if (f.lastTimestamp !== undefined) lines.push(`Last event at: ${dateOf(f.lastTimestamp, offset)}`);
  if (f.lost > 0n) lines.push(`Lost events: ${f.lost}`);
  if (f.byProbe.size) {
    lines.push('Probes:');
    // Most hits first, as retis; equal counts by name, so that the output is the same every run.
    const sorted = [...f.byProbe].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
    for (const [probe, n] of sorted) lines.push(`  ${probe}: ${n}`);
  }
  if (f.errors.size) {
    lines.push('Errors:');
    for (const [err, n] of f.errors) lines.push(`  ${err}: ${n}`);
  }
}

/** The report, line for line as `retis stats` prints it (plus retrace's own lines, named so). */
export function formatStats(s: EventStats): string {
  const lines: string[] = [];
  for (const f of s.files) formatFile(f, lines);
  return lines.join('\n');
}
