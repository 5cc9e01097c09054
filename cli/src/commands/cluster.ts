// Cluster verbs: read what the aggregator collected. `retrace traces`, `retrace summary TRACE`,
// `retrace events TRACE` (journeys printed, or written as JSON lines or pcap-ng).
import { once } from 'node:events';
import {
  formatEvent,
  formatSeries,
  parseLine,
  type Event,
  type FormatOptions,
  type TraceSummary,
} from '@retrace/events';
import { QueryClient } from '../cluster/query-client.js';
import { table } from '../output/table.js';
import { LineWriter } from '../output/line-writer.js';
import { PcapngFile } from '../output/pcapng-file.js';
import { UsageError } from '../usage-error.js';
import { followJourneys } from './kube.js';

export interface ServerOptions {
  server?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  /** The name in the aggregator's certificate, when --server is another (a port-forward). */
  tlsServerName?: string;
}

function client(o: ServerOptions): QueryClient {
  const server = o.server ?? process.env.RETRACE_SERVER;
  if (!server) throw new UsageError('no aggregator: pass --server HOST:PORT (or set RETRACE_SERVER)');
  return new QueryClient(server, { ca: o.ca, cert: o.cert, key: o.key, insecure: !!o.insecure }, o.tlsServerName);
}

export async function traces(o: ServerOptions): Promise<number> {
  const c = client(o);
  try {
    const list = await c.listTraces();
    const rows = [['TRACE', 'NODES', 'EVENTS', 'LOST', 'JOURNEYS', 'STITCHED', 'LATE', 'TOP DROP']];
    for (const t of list)
      rows.push([
        t.trace,
        `${t.nodes?.filter((n) => n.state === 'running' || n.state === 'complete').length ?? 0}/${t.nodes?.length ?? 0}`,
        String(t.events),
        String(t.lost),
        String(t.journeys),
        String(t.stitched),
        String(t.late),
        t.drops?.[0] ? `${t.drops[0].reason} (${t.drops[0].count})` : '',
      ]);
    process.stdout.write(`${table(rows)}\n`);
    return 0;
  } finally {
    c.close();
  }
}

export function formatSummary(s: TraceSummary): string {
  const out = [`trace ${s.trace}: ${s.events} event(s), ${s.lost} lost, ${s.series} series, ${s.journeys} journey(s)`];
  out.push(`  stitched across nodes: ${s.stitched}, single-node: ${s.unstitched}, late: ${s.late}`);
  out.push(`  stored: ${s.stored_bytes} bytes${s.evicted ? `, ${s.evicted} event(s) evicted by the size cap` : ''}`);
  if (s.store_problem) out.push(`  store cannot write: ${s.store_problem} (no batch acknowledged meanwhile)`);
  for (const n of s.nodes ?? []) {
    out.push(
      `  node ${n.node} [${n.state}] kernel ${n.kernel_release || '?'}: ${n.probes_attached} probe(s) attached, ${n.probes_failed} failed, ${n.events} event(s), ${n.lost} lost` +
        (n.lost_by_cause?.length ? ` (${n.lost_by_cause.map((c) => `${c.cause} ${c.count}`).join(', ')})` : '') +
        `; emitted ${n.events_emitted}, ring ${(n.ring_fill * 100).toFixed(0)}% full`,
    );
    if (n.error) out.push(`    error: ${n.error}`);
    for (const f of n.failed_probes ?? []) out.push(`    probe ${f.probe} failed: ${f.reason}`);
    for (const g of n.gaps ?? [])
      out.push(`    gap: batches ${g.first_seq}..${g.last_seq || 'end'} of run ${g.incarnation}: ${g.reason}`);
  }
  if (s.drops?.length) out.push('  drops:');
  for (const d of s.drops ?? []) out.push(`    ${d.reason}: ${d.count}${d.example ? `, e.g. ${d.example}` : ''}`);
  return out.join('\n');
}

export async function summary(trace: string, o: ServerOptions): Promise<number> {
  const c = client(o);
  try {
    process.stdout.write(`${formatSummary(await c.summary(trace))}\n`);
    return 0;
  } finally {
    c.close();
  }
}

export interface EventsOptions extends ServerOptions {
  out?: string;
  pcap?: string;
  node?: string;
  pod?: string;
  dropReason?: string;
}

/** `events TRACE --server`: straight from the aggregator, TRACE being its name for the trace. */
export async function events(
  trace: string,
  o: EventsOptions & { follow?: boolean; intervalMs?: number },
  fmt: FormatOptions,
  via?: QueryClient,
): Promise<number> {
  const c = via ?? client(o);
  try {
    // Without Kubernetes nothing says when the trace ends: follow until Ctrl-C.
    return await followJourneys(c, trace, o, fmt, () => Promise.resolve(false));
  } finally {
    c.close();
  }
}

/**
 * Streams a trace's journeys from the aggregator: to a file (JSON lines, or pcap-ng), or printed.
 * `seen`: journeys already shown (their lines), skipped and then added to, for follow mode.
 * Returns how many journeys were new.
 */
export async function writeJourneys(
  c: QueryClient,
  trace: string,
  o: EventsOptions,
  fmt: FormatOptions,
  seen?: Set<string>,
): Promise<number> {
  const req = {
    trace,
    format: o.pcap ? 'pcapng' : 'json',
    node: o.node ?? '',
    pod: o.pod ?? '',
    drop_reason: o.dropReason ?? '',
  };
  if (o.pcap) {
    const pcapng = new PcapngFile(o.pcap, '--pcap');
    try {
      for await (const chunk of c.events(req)) pcapng.write(chunk);
    } finally {
      pcapng.close();
    }
    return 0;
  }
  // One journey per line of the stream (a JSON array of events): written to the file (appended
  // when following) as is, or printed. A failed write is counted through to the end, then thrown.
  const target = o.out;
  const file = target ? new LineWriter(target, { unit: 'journey', append: !!seen, onError: () => {} }) : undefined;
  let rest = '';
  let n = 0;
  let fresh = 0;
  const take = (line: string): void => {
    if (!line.trim()) return;
    n++;
    if (seen) {
      if (seen.has(line)) return;
      seen.add(line);
    }
    fresh++;
    if (file) {
      file.line(line);
      return;
    }
    const parsed = parseLine(line, n);
    const journey: Event[] = Array.isArray(parsed) ? parsed : [parsed];
    const first = journey[0];
    const j = first?.journey;
    const head = j
      ? `journey ${j.id}${j.nodes > 1 ? ` across ${j.nodes} nodes` : ''}${journey.some((e) => e.journey?.late) ? ' (late events)' : ''}`
      : '';
    if (head) process.stdout.write(`${head}\n`);
    process.stdout.write(`${journey.length === 1 && first ? formatEvent(first, fmt) : formatSeries(journey, fmt)}\n`);
    if (fmt.format !== 'single-line') process.stdout.write('\n');
  };
  try {
    for await (const chunk of c.events(req)) {
      const lines = (rest + Buffer.from(chunk).toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) take(l);
      // A slow reader of stdout (a pager, a pipe) holds the next chunk back, and with it the
      // aggregator: what is printed does not pile up in this process.
      if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
    }
    take(rest);
  } finally {
    file?.close();
  }
  return fresh;
}
