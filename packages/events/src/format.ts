// Human-readable events, as `retis print` / `retis sort --print` show them:
// `{ts} ({cpu}) [{comm}] {pid}/{tgid} [{probe}] {symbol} #{tracking id} (skb {addr}) n {idx} drop (reason X)`
// followed by one line per section (multi-line) or everything on one line (single-line).
import type { ClockOffset, Event } from './gen/event.js';
import { sectionLines } from './format-sections.js';
import { formatUtcText } from './time.js';
import { trackingId } from './tracking.js';

export interface FormatOptions {
  format?: 'single-line' | 'multi-line';
  /** Wall-clock UTC instead of the monotonic timestamp, from `clockOffset` (monotonic without one). */
  utc?: boolean;
  /** Show the link layer (Ethernet header) of packets. */
  link?: boolean;
  /** `startup.clock_monotonic_offset` of the file the events come from. */
  clockOffset?: { sec: bigint; nsec: bigint };
}

const PROBE_KINDS: Record<string, string> = {
  raw_tracepoint: 'tp',
  kprobe: 'k',
  kretprobe: 'kr',
  fentry: 'fe',
  fexit: 'fx',
  usdt: 'u',
  netlink: 'nl',
};

/** `tp`, `k`, `kr`, `fe`, `fx`; unknown kinds are shown as they are. */
export function probeKind(probeType: string): string {
  return PROBE_KINDS[probeType] ?? probeType;
}

function timestamp(ev: Event, opts: FormatOptions): string | undefined {
  const ts = ev.common?.timestamp;
  if (ts === undefined || ts === null) return undefined;
  if (!opts.utc) return ts.toString();
  const offset: ClockOffset | undefined = opts.clockOffset ?? ev.startup?.clock_monotonic_offset;
  // Without the startup event's offset there is no wall clock to add: monotonic, as retis prints.
  return offset ? formatUtcText(ts, offset) : ts.toString();
}

/** The first line of an event. */
export function formatHeader(ev: Event, opts: FormatOptions = {}): string {
  const parts: string[] = [];
  const ts = timestamp(ev, opts);
  if (ts !== undefined) parts.push(ts);
  const c = ev.common;
  if (c?.smp_id !== undefined && c.smp_id !== null) parts.push(`(${c.smp_id})`);
  const task = c?.task;
  if (task) parts.push(`[${task.comm}]`, task.pid !== task.tgid ? `${task.pid}/${task.tgid}` : `${task.tgid}`);
  if (ev.kernel) parts.push(`[${probeKind(ev.kernel.probe_type)}]`, ev.kernel.symbol);
  else if (ev.userspace) {
    // The binary's name, as retis prints it (nothing when the path has no directory).
    const slash = ev.userspace.path.lastIndexOf('/');
    parts.push('[u]', ev.userspace.symbol);
    if (slash >= 0) parts.push(`(${ev.userspace.path.slice(slash + 1)})`);
  }
  const st = ev['skb-tracking'] ?? ev.tracking?.skb;
  if (st) parts.push(`#${trackingId(st)}`, `(skb ${st.skb.toString(16)})`);
  if (ev.tracking) parts.push(`n ${ev.tracking.idx}`);
  const drop = ev['skb-drop'];
  if (drop) parts.push(`drop (reason ${drop.subsys ? `${drop.subsys}/` : ''}${drop.drop_reason})`);
  return parts.join(' ');
}

/** An event as text: multi-line (default) or single-line. No trailing newline. */
export function formatEvent(ev: Event, opts: FormatOptions = {}): string {
  const header = formatHeader(ev, opts);
  const stack = ev.kernel?.stack_trace ?? [];
  const multiline = opts.format !== 'single-line';
  const sections = sectionLines(ev, opts.link ?? false, multiline);
  if (opts.format === 'single-line') {
    const parts = [header];
    if (stack.length > 0) parts.push(`stack [${stack.join(', ')}]`);
    parts.push(...sections);
    return parts.filter((p) => p !== '').join(' ');
  }
  // Continuation lines of a section keep its indentation.
  return [header, ...stack.map((s) => `    ${s}`), ...sections.map((s) => `  ${s.replaceAll('\n', '\n  ')}`)].join(
    '\n',
  );
}

/**
 * A series (one packet's events, as `sort` groups them): the first event as formatEvent, the
 * next ones behind `  ↳ ` with their continuation lines indented to match.
 */
export function formatSeries(events: Event[], opts: FormatOptions = {}): string {
  return events
    .map((ev, i) => {
      const text = formatEvent(ev, opts);
      if (i === 0) return text;
      return text
        .split('\n')
        .map((line, j) => (j === 0 ? `  ↳ ${line}` : `    ${line}`))
        .join('\n');
    })
    .join('\n');
}
