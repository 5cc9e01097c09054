// Traces from a file, for an aggregator run without Kubernetes (and for tests): the same fields a
// Trace resource has, in YAML or JSON. The operator (issue 8) feeds the same TraceSpec list from
// the API server instead.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { PodRef, TraceSpec } from '@retrace/events';

export class TraceFileError extends Error {
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'TraceFileError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(where: string, v: unknown, fail: (m: string) => never): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`${where} must be a list of strings`);
  return v as string[];
}

/** "30s", "500ms", "2m", or a number of seconds -> ms. */
export function durationMs(where: string, v: unknown, fail: (m: string) => never): number {
  if (v === undefined) return 0;
  if (typeof v === 'number' && v >= 0) return Math.round(v * 1000);
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v) : null;
  if (!m) return fail(`${where} must be a duration like 30s, 500ms or 2m, got ${JSON.stringify(v)}`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return Math.round(n * unit);
}

function count(where: string, v: unknown, fail: (m: string) => never): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${where} must be a whole number >= 0`);
  return v as number;
}

const KNOWN = new Set([
  'name',
  'namespace',
  'namespaced',
  'collectors',
  'probes',
  'filter',
  'metaFilter',
  'stack',
  'limits',
  'pods',
  'ovsTrack',
  'ovsEnrichFlows',
  'ovsEnrichRate',
  'allowSystemChanges',
  'nodes',
  'skbSections',
  'nftVerdicts',
  'profile',
]);

export function traceSpecsFrom(doc: unknown, file = 'traces'): TraceSpec[] {
  const fail = (m: string): never => {
    throw new TraceFileError(file, m);
  };
  const list = isObj(doc) ? doc.traces : undefined;
  if (!Array.isArray(list)) fail('expected a top-level `traces:` list');
  const seen = new Set<string>();
  return (list as unknown[]).map((t, i) => {
    const at = `traces[${i}]`;
    if (!isObj(t)) return fail(`${at} must be a mapping`);
    for (const k of Object.keys(t))
      if (!KNOWN.has(k)) fail(`${at}.${k} is not a trace field (known: ${[...KNOWN].join(', ')})`);
    if (typeof t.name !== 'string' || !t.name) return fail(`${at}.name is required`);
    const namespaced = t.namespaced === undefined ? typeof t.namespace === 'string' : t.namespaced === true;
    if (namespaced && typeof t.namespace !== 'string') fail(`${at}: a namespaced trace needs \`namespace\``);
    const name = namespaced ? `${String(t.namespace)}/${t.name}` : t.name;
    if (seen.has(name)) fail(`${at}: trace ${name} is defined twice`);
    seen.add(name);
    const limits = t.limits === undefined ? {} : t.limits;
    if (!isObj(limits)) return fail(`${at}.limits must be a mapping`);
    const pods: PodRef[] = [];
    if (t.pods !== undefined && !Array.isArray(t.pods)) fail(`${at}.pods must be a list`);
    for (const [j, p] of ((t.pods as unknown[] | undefined) ?? []).entries()) {
      const pat = `${at}.pods[${j}]`;
      if (!isObj(p) || typeof p.name !== 'string' || typeof p.node !== 'string')
        return fail(`${pat} needs at least name and node`);
      const ns = typeof p.namespace === 'string' ? p.namespace : String(t.namespace ?? 'default');
      if (namespaced && ns !== t.namespace)
        fail(`${pat}: pod of namespace ${ns} in a trace of namespace ${String(t.namespace)}`);
      pods.push({
        namespace: ns,
        name: p.name,
        uid: typeof p.uid === 'string' ? p.uid : '',
        ips: strings(`${pat}.ips`, p.ips, fail),
        containers: strings(`${pat}.containers`, p.containers, fail),
        node: p.node,
      });
    }
    return {
      name,
      namespaced,
      collectors: strings(`${at}.collectors`, t.collectors, fail),
      probes: strings(`${at}.probes`, t.probes, fail),
      filter: typeof t.filter === 'string' ? t.filter : '',
      profile: typeof t.profile === 'string' ? t.profile : '',
      meta_filter: typeof t.metaFilter === 'string' ? t.metaFilter : '',
      stack: t.stack === true,
      limits: {
        max_events: BigInt(count(`${at}.limits.maxEvents`, limits.maxEvents, fail)),
        duration_ms: durationMs(`${at}.limits.duration`, limits.duration, fail),
        events_per_sec: count(`${at}.limits.eventsPerSec`, limits.eventsPerSec, fail),
      },
      pods,
      ovs_track: t.ovsTrack === true,
      // Host-wide (any pod's flows): a namespaced trace does not ask, as for system changes.
      ovs_enrich_flows: t.ovsEnrichFlows === true && !namespaced,
      ovs_enrich_rate: count(`${at}.ovsEnrichRate`, t.ovsEnrichRate, fail),
      allow_system_changes: t.allowSystemChanges === true && !namespaced,
      nodes: strings(`${at}.nodes`, t.nodes, fail),
      skb_sections: strings(`${at}.skbSections`, t.skbSections, fail),
      nft_verdicts: strings(`${at}.nftVerdicts`, t.nftVerdicts, fail).join(','),
    };
  });
}

export function readTraceFile(file: string): TraceSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TraceFileError(file, `cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new TraceFileError(file, `not valid YAML/JSON: ${(e as Error).message}`);
  }
  return traceSpecsFrom(doc, file);
}

/** Whether `node` runs the trace (no node list: every node does). */
export function runsOn(t: TraceSpec, node: string): boolean {
  return !t.nodes?.length || t.nodes.includes(node);
}

/** A trace as one node runs it: only that node's pods. */
export function specForNode(t: TraceSpec, node: string): TraceSpec {
  return { ...t, pods: (t.pods ?? []).filter((p) => p.node === node) };
}
