// The cluster verbs that go through Kubernetes (`retrace create|get|stop|drops|events`, and the
// same under `kubectl retrace`): Traces and ClusterTraces are objects in the API; their results
// are on the aggregator the status names.
import { readFileSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import type { FormatOptions, TraceSummary } from '@retrace/events';
import { TraceSpecError, validateTrace, type FilterChecker, type TraceResource } from '@retrace/spec';
import { stringify as yamlStringify } from 'yaml';
import { QueryClient } from '../cluster/query-client.js';
import { TraceClient, kindName, refOf, type KubeFlags } from '../kube/trace-client.js';
import { traceFromFlags, type CreateFlags } from '../kube/trace-from-flags.js';
import { describeTrace, traceTable } from '../kube/trace-view.js';
import { table } from '../output/table.js';
import { UsageError } from '../usage-error.js';
import { writeJourneys, type EventsOptions, type ServerOptions } from './cluster.js';

/** How an aggregator is reached and trusted, beyond what the trace's status says. */
export interface AggregatorFlags extends ServerOptions {
  /** A Secret (namespace/name) with ca.crt, tls.crt and tls.key for the query API. */
  tlsSecret?: string;
  /** A ConfigMap (namespace/name) with the CA's ca.crt: no client certificate, a bearer token. */
  caConfigmap?: string;
  /** The name in the aggregator's certificate, when --server is another address for it. */
  tlsServerName?: string;
}

type Output = 'json' | 'yaml' | undefined;

function printObject(o: unknown, output: Output): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(o, null, 2)}\n` : yamlStringify(o));
}

// Which flag of `retrace create` sets each spec field, so the operator's check names what to change.
const FLAG_OF: Record<string, string> = {
  collectors: '-c/--collectors',
  probes: '-p/--probe',
  packetFilter: '-f/--filter-packet',
  metaFilter: '-m/--filter-meta',
  nftVerdicts: '--nft-verdicts',
  duration: '--duration',
  'output.retention': '--retention',
  profile: '--node-profile',
  allowSystemChanges: '--allow-system-changes',
  ovsTrack: '--ovs-track',
  ovsEnrichFlows: '--ovs-enrich-flows',
  ovsEnrichRate: '--ovs-enrich-rate',
};

/**
 * The agents' packet filter check, where this machine can run it (libpcap, through the agent's
 * native addon); without it the agents refuse a bad filter when the trace starts, and the trace's
 * status says why.
 */
async function localFilterChecker(): Promise<FilterChecker | undefined> {
  try {
    return (await import('@retrace/agent')).packetFilterChecker;
  } catch {
    return undefined;
  }
}

export async function create(
  name: string,
  f: CreateFlags & KubeFlags & { dryRun?: boolean; output?: Output },
): Promise<number> {
  const kube = f.dryRun ? undefined : new TraceClient(f);
  const t = traceFromFlags(name, { ...f, namespace: f.namespace ?? kube?.namespace ?? 'default' });
  // The operator or the agents would fail it a moment later: say so now, naming the flag.
  try {
    const packetFilter = t.spec?.packetFilter ? await localFilterChecker() : undefined;
    validateTrace(t, packetFilter ? { packetFilter } : {});
  } catch (e) {
    if (!(e instanceof TraceSpecError)) throw e;
    const flag = FLAG_OF[e.field.replace(/\[\d+\]$/, '')];
    throw new UsageError(`${flag ? `${flag}: ` : ''}${e.message}`);
  }
  if (!kube) {
    printObject(t, f.output ?? 'yaml');
    return 0;
  }
  const made = await kube.create(t);
  if (f.output) printObject(made, f.output);
  else process.stdout.write(`${kindName(refOf(made))} created\n`);
  return 0;
}

export async function get(
  name: string | undefined,
  f: KubeFlags & { allNamespaces?: boolean; output?: Output },
): Promise<number> {
  const kube = new TraceClient(f);
  if (name) {
    const t = await kube.find(name);
    if (f.output) printObject(t, f.output);
    else process.stdout.write(`${describeTrace(t)}\n`);
    return 0;
  }
  const list = await kube.list({ allNamespaces: !!f.allNamespaces, clusterOnly: !!f.cluster });
  if (f.output) printObject({ apiVersion: 'v1', kind: 'List', items: list }, f.output);
  else if (!list.length)
    process.stderr.write(
      `No traces found in ${f.allNamespaces ? 'any namespace' : `namespace ${kube.namespace}`} (nor ClusterTraces).\n`,
    );
  else process.stdout.write(`${traceTable(list)}\n`);
  return 0;
}

export async function stop(name: string, f: KubeFlags): Promise<number> {
  const kube = new TraceClient(f);
  const t = await kube.find(name);
  const ref = refOf(t);
  if (t.spec?.stopped) {
    process.stdout.write(`${kindName(ref)} was already stopped\n`);
    return 0;
  }
  await kube.stop(ref);
  process.stdout.write(`${kindName(ref)} stopped\n`);
  return 0;
}

/** A query client for `server`, trusting what the flags say (files, a Secret or a ConfigMap). */
async function queryClient(server: string, f: AggregatorFlags & KubeFlags, kube?: TraceClient): Promise<QueryClient> {
  const k = kube ?? (f.tlsSecret || f.caConfigmap ? new TraceClient(f) : undefined);
  // Who reads: $RETRACE_TOKEN, or else the kubeconfig user's own token (an aggregator run with
  // --query-authz kubernetes checks that user's RBAC on the trace).
  const token = process.env.RETRACE_TOKEN || (k ? await k.bearerToken() : undefined);
  const auth = token
    ? { token }
    : k
      ? {
          hint:
            `your kubeconfig user ${k.userName} sends no bearer token (the aggregator cannot check a Kubernetes ` +
            'client certificate): set RETRACE_TOKEN=$(kubectl create token SERVICEACCOUNT -n NAMESPACE), or use --tls-secret',
        }
      : {};
  if (f.tlsSecret && k) {
    const pem = await k.tlsSecret(f.tlsSecret);
    return new QueryClient(server, credentials.createSsl(pem.ca, pem.key, pem.cert), f.tlsServerName, auth);
  }
  if (f.caConfigmap && k) {
    const ca = await k.caConfigMap(f.caConfigmap);
    const own = f.cert && f.key ? { cert: readFileSync(f.cert), key: readFileSync(f.key) } : undefined;
    return new QueryClient(
      server,
      own ? credentials.createSsl(ca, own.key, own.cert) : credentials.createSsl(ca),
      f.tlsServerName,
      auth,
    );
  }
  return new QueryClient(server, { ca: f.ca, cert: f.cert, key: f.key, insecure: !!f.insecure }, f.tlsServerName, auth);
}

/** `events TRACE --server ...`: the aggregator named directly (TLS files, or a Secret's). */
export function directClient(f: AggregatorFlags & KubeFlags): Promise<QueryClient> {
  return queryClient(f.server ?? process.env.RETRACE_SERVER ?? '', f);
}

/** A query client for the aggregator holding a trace's results. */
async function aggregatorOf(
  kube: TraceClient,
  t: TraceResource,
  f: AggregatorFlags,
): Promise<{ client: QueryClient; trace: string }> {
  const r = t.status?.results;
  const server = f.server ?? process.env.RETRACE_SERVER ?? r?.aggregator;
  if (!server || !r?.trace)
    throw new UsageError(
      `${kindName(refOf(t))} has no results yet (phase ${t.status?.phase ?? 'Pending'}${t.status?.message ? `: ${t.status.message}` : ''}); is the operator running?`,
    );
  return { client: await queryClient(server, f, kube), trace: r.trace };
}

const ENDED = new Set(['Completed', 'Failed']);

export interface FollowFlags {
  follow?: boolean;
  /** How often follow mode asks for new journeys (ms). */
  intervalMs?: number;
}

/**
 * Writes the trace's journeys; with --follow, asks again every interval and writes only new ones,
 * until `ended()` says the trace is over (one last round then) or Ctrl-C.
 */
export async function followJourneys(
  client: QueryClient,
  trace: string,
  f: EventsOptions & FollowFlags,
  fmt: FormatOptions,
  ended: () => Promise<boolean>,
): Promise<number> {
  if (!f.follow) {
    await writeJourneys(client, trace, f, fmt);
    return 0;
  }
  if (f.pcap) throw new UsageError('--follow prints or appends journeys; pcap-ng is written once: drop --follow');
  const seen = new Set<string>();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  try {
    for (;;) {
      const over = await ended();
      await writeJourneys(client, trace, f, fmt, seen);
      if (over || interrupted) break;
      await new Promise((r) => setTimeout(r, f.intervalMs ?? 1000));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  return 0;
}

/** `events NAME`: the journeys of the trace NAME (through its status), sorted across nodes. */
export async function kubeEvents(
  name: string,
  f: EventsOptions & AggregatorFlags & KubeFlags & FollowFlags,
  fmt: FormatOptions,
): Promise<number> {
  const kube = new TraceClient(f);
  let t = await kube.find(name);
  const ref = refOf(t);
  const { client, trace } = await aggregatorOf(kube, t, f);
  try {
    let first = true;
    const code = await followJourneys(client, trace, f, fmt, async () => {
      if (!first) t = await kube.read(ref);
      first = false;
      return ENDED.has(t.status?.phase ?? '');
    });
    if (f.follow) process.stderr.write(`${kindName(ref)}: ${t.status?.phase ?? 'Pending'}\n`);
    return code;
  } finally {
    client.close();
  }
}

interface Place {
  reason: string;
  node: string;
  pod: string;
  count: bigint;
  traces: Set<string>;
}

/**
 * Drops by (reason, node, pod) from a trace's summary. The aggregator keeps the most frequent
 * places; an entry without a node holds a reason's drops elsewhere. An older aggregator without
 * places gives reasons only.
 */
function placesOf(s: TraceSummary): { reason: string; node: string; pod: string; count: bigint }[] {
  if (s.drop_places?.length) return s.drop_places.map((p) => (p.node ? p : { ...p, node: '(elsewhere)', pod: '' }));
  return (s.drops ?? []).map((d) => ({ reason: d.reason, node: '?', pod: '?', count: d.count }));
}

/**
 * `drops [NAME]`: where packets die, across the cluster: every trace's drops (or one trace's) by
 * reason, then by node and pod, from the aggregators the traces' statuses name.
 */
export async function drops(
  name: string | undefined,
  f: AggregatorFlags & KubeFlags & { allNamespaces?: boolean },
): Promise<number> {
  const kube = new TraceClient(f);
  const traces = name
    ? [await kube.find(name)]
    : await kube.list({ allNamespaces: !!f.allNamespaces, clusterOnly: !!f.cluster });
  const places = new Map<string, Place>();
  const unreachable: string[] = [];
  for (const t of traces) {
    const label = t.metadata.namespace ? `${t.metadata.namespace}/${t.metadata.name ?? ''}` : (t.metadata.name ?? '');
    if (!t.status?.results?.aggregator) continue;
    let found: { reason: string; node: string; pod: string; count: bigint }[];
    const { client, trace } = await aggregatorOf(kube, t, f);
    try {
      found = placesOf(await client.summary(trace));
    } catch (e) {
      // The status keeps the top reasons: less detail, but not nothing.
      unreachable.push(`${label}: ${(e as Error).message}`);
      found = (t.status.topDropReasons ?? []).map((d) => ({
        reason: d.reason,
        node: d.node ?? '?',
        pod: d.pod ?? '?',
        count: BigInt(d.count),
      }));
    } finally {
      client.close();
    }
    for (const p of found) {
      const key = `${p.reason}\0${p.node}\0${p.pod}`;
      const e = places.get(key) ?? { reason: p.reason, node: p.node, pod: p.pod, count: 0n, traces: new Set() };
      e.count += p.count;
      e.traces.add(label);
      places.set(key, e);
    }
  }
  for (const u of unreachable) process.stderr.write(`warning: ${u} (counts from the status instead)\n`);
  if (!places.size) {
    process.stdout.write(
      `No drops recorded by ${name ? kindName(refOf(traces[0] as TraceResource)) : `${traces.length} trace(s)`}.\n`,
    );
    return 0;
  }
  const byCount = (a: { count: bigint }, b: { count: bigint }): number =>
    a.count < b.count ? 1 : a.count > b.count ? -1 : 0;
  const totals = new Map<string, bigint>();
  for (const p of places.values()) totals.set(p.reason, (totals.get(p.reason) ?? 0n) + p.count);
  const reasons = [['REASON', 'DROPS']];
  for (const [reason, count] of [...totals].sort((a, b) => byCount({ count: a[1] }, { count: b[1] })))
    reasons.push([reason, String(count)]);
  const rows = [['REASON', 'NODE', 'POD', 'DROPS', 'TRACES']];
  for (const p of [...places.values()].sort(byCount))
    rows.push([
      p.reason,
      p.node,
      p.pod || (p.node === '(elsewhere)' ? '' : '(host)'),
      String(p.count),
      [...p.traces].join(','),
    ]);
  process.stdout.write(`${table(reasons)}\n\n${table(rows)}\n`);
  return 0;
}
