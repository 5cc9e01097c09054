// How the cluster verbs show traces: the `get` table (the CRDs' printer columns) and the
// one-trace description (conditions, nodes with their failed probes, drops, results).
import type { TraceResource } from '@retrace/spec';
import { table } from '../output/table.js';

/** kubectl's AGE: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, now = Date.now()): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function traceTable(traces: TraceResource[], now = Date.now()): string {
  const rows = [['NAMESPACE', 'NAME', 'PHASE', 'READY', 'EVENTS', 'LOST', 'TOP DROP', 'AGE']];
  for (const t of traces) {
    const s = t.status ?? {};
    rows.push([
      t.metadata.namespace ?? '(cluster)',
      t.metadata.name ?? '',
      s.phase ?? 'Pending',
      `${s.nodesReady ?? 0}/${s.nodesTotal ?? 0}`,
      String(s.events ?? 0),
      String(s.lost ?? 0),
      s.topDropReason ?? '',
      age(t.metadata.creationTimestamp, now),
    ]);
  }
  return table(rows);
}

/** Everything the status says about one trace, for a person. */
export function describeTrace(t: TraceResource, now = Date.now()): string {
  const s = t.status ?? {};
  const out: string[] = [];
  const field = (k: string, v: string): void => {
    out.push(`${`${k}:`.padEnd(13)}${v}`);
  };
  field('Name', t.metadata.name ?? '');
  field('Kind', t.metadata.namespace ? `Trace (namespace ${t.metadata.namespace})` : 'ClusterTrace');
  field('Phase', `${s.phase ?? 'Pending'}${s.message ? ` (${s.message})` : ''}`);
  field('Nodes', `${s.nodesReady ?? 0}/${s.nodesTotal ?? 0} ready`);
  field('Events', `${s.events ?? 0}, ${s.lost ?? 0} lost`);
  field('Age', age(t.metadata.creationTimestamp, now));
  if (s.startTime) field('Started', s.startTime);
  if (s.endTime) field('Ended', s.endTime);
  if (t.spec?.stopped) field('Stopped', 'yes (spec.stopped)');
  const r = s.results;
  if (r?.aggregator)
    field(
      'Results',
      `${r.trace ?? ''} on ${r.aggregator}${r.storedEvents !== undefined ? `, ${r.storedEvents} event(s) stored` : ''}`,
    );
  if (s.conditions?.length) {
    out.push('Conditions:');
    const rows = [['  TYPE', 'STATUS', 'REASON', 'MESSAGE']];
    for (const c of s.conditions) rows.push([`  ${c.type}`, c.status, c.reason, c.message]);
    out.push(table(rows));
  }
  if (s.nodes?.length) {
    out.push('Per node:');
    const rows = [['  NODE', 'STATE', 'KERNEL', 'PROBES', 'EVENTS', 'LOST', 'MESSAGE']];
    const failed: string[][] = [];
    for (const n of s.nodes) {
      rows.push([
        `  ${n.name}`,
        n.state,
        n.kernel ?? '',
        `${n.probesAttached ?? 0} attached, ${n.probesFailed?.length ?? 0} failed`,
        String(n.events ?? 0),
        String(n.lost ?? 0),
        n.message ?? '',
      ]);
      for (const p of n.probesFailed ?? []) failed.push([n.name, p.probe, p.reason]);
    }
    out.push(table(rows));
    for (const [node, probe, reason] of failed) out.push(`  ${node}: probe ${probe || '?'} failed: ${reason}`);
  }
  if (s.topDropReasons?.length) {
    out.push('Top drop reasons:');
    for (const d of s.topDropReasons) {
      out.push(`  ${d.reason}: ${d.count}`);
      if (d.example) out.push(`    e.g. ${d.example.split('\n').join('\n         ')}`);
    }
  }
  return out.join('\n');
}
