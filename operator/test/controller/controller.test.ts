// The controller driven through @kubernetes/client-node against the in-process API server
// (with the real CRDs from crds/): finalizer, targets, assignments, status, stop conditions,
// deletion, nodes joining, leader election. The aggregator side is a recorder the test scripts:
// the agents' part is covered end to end in e2e/.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { parse } from 'yaml';
import type { TraceSpec, TraceSummary } from '@retrace/events';
import { KubeApi } from '../../src/controller/kube-api.js';
import { TraceController, type AggregatorPort } from '../../src/controller/controller.js';
import { LeaderElector } from '../../src/controller/leader-election.js';
import type { TraceResource } from '../../src/controller/trace-resource.js';

const CRDS = join(dirname(fileURLToPath(import.meta.url)), '../../../crds');

class RecordingAggregator implements AggregatorPort {
  specs: TraceSpec[] = [];
  summaries = new Map<string, TraceSummary>();
  connected = ['n1', 'n2'];
  readonly address = 'aggregator.test:7443';
  setTraces(specs: TraceSpec[]): void {
    this.specs = specs;
  }
  summary(trace: string): TraceSummary | undefined {
    return this.summaries.get(trace);
  }
  connectedNodes(): string[] {
    return this.connected;
  }
  spec(name: string): TraceSpec | undefined {
    return this.specs.find((s) => s.name === name);
  }
}

const summary = (trace: string, events: number, nodes: string[], drop?: string): TraceSummary => ({
  trace,
  nodes: nodes.map((node) => ({
    node,
    state: 'running',
    probes_attached: 3,
    probes_failed: 0,
    events: BigInt(events),
    lost: 0n,
    lost_by_cause: [],
    gaps: [],
    error: '',
    kernel_release: '6.18.0',
    events_emitted: BigInt(events),
    ring_fill: 0,
  })),
  events: BigInt(events),
  lost: 0n,
  series: 0n,
  journeys: 0n,
  stitched: 0n,
  unstitched: 0n,
  late: 0n,
  drops: drop ? [{ reason: drop, count: 2n, example: 'an example' }] : [],
  stored_bytes: 0n,
  evicted: 0n,
});

let server: FakeApiServer;
let api: KubeApi;
let agg: RecordingAggregator;
let controller: TraceController;

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const getTrace = (ns: string | undefined, name: string): TraceResource | undefined =>
  server.get('retrace.dev/v1alpha1', ns ? 'Trace' : 'ClusterTrace', ns, name) as TraceResource | undefined;

beforeEach(async () => {
  server = await FakeApiServer.start({ bookmarkIntervalMs: 200 });
  for (const f of ['trace.yaml', 'clustertrace.yaml']) server.apply(parse(readFileSync(join(CRDS, f), 'utf8')));
  server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  for (const [name, zone] of [
    ['n1', 'a'],
    ['n2', 'b'],
  ])
    server.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { zone: zone as string } } });
  server.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'team', labels: { app: 'web' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] },
    status: { phase: 'Running', podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }] },
  });
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeConfig());
  api = new KubeApi(kc);
  agg = new RecordingAggregator();
  controller = new TraceController(api, agg, { statusIntervalMs: 100, log: () => undefined });
  await controller.start();
});

afterEach(async () => {
  controller.stop();
  await server.stop();
});

test('a Trace gets a finalizer, runs on its pods node, and its status follows the aggregator', async () => {
  server.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name: 'drops', namespace: 'team' },
    spec: { collectors: ['skb-drop'], packetFilter: 'udp', podSelector: { matchLabels: { app: 'web' } } },
  });
  const spec = await until('the assignment', () => agg.spec('team/drops'));
  expect(spec).toMatchObject({ namespaced: true, nodes: ['n1'], filter: 'udp', collectors: ['skb-drop'] });
  expect(spec.pods?.map((p) => [p.name, p.ips])).toEqual([['web', ['10.1.0.5']]]);
  const pending = await until('a status', () => getTrace('team', 'drops')?.status?.phase && getTrace('team', 'drops'));
  expect(pending.metadata.finalizers).toContain('retrace.dev/results');
  expect(pending.status).toMatchObject({
    phase: 'Pending',
    nodesTotal: 1,
    results: { trace: 'team/drops', aggregator: 'aggregator.test:7443' },
  });

  agg.summaries.set('team/drops', summary('team/drops', 7, ['n1'], 'NETFILTER_DROP'));
  const running = await until('Running', () =>
    getTrace('team', 'drops')?.status?.phase === 'Running' ? getTrace('team', 'drops') : undefined,
  );
  expect(running.status).toMatchObject({ nodesReady: 1, events: 7, topDropReason: 'NETFILTER_DROP (2)' });
  expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
});

test("probes that failed on a node are in its status by name, with the agent's reason", async () => {
  server.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'ClusterTrace',
    metadata: { name: 'kp' },
    spec: { nodeSelector: { zone: 'a' }, probes: ['kprobe:ip_rcv', 'fentry:tcp_v4_rcv'] },
  });
  await until('the assignment', () => agg.spec('kp'));
  const s = summary('kp', 3, ['n1']);
  Object.assign(s.nodes?.[0] ?? {}, {
    probes_attached: 1,
    probes_failed: 2,
    failed_probes: [
      { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
      { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
    ],
  });
  agg.summaries.set('kp', s);
  const t = await until('the failed probes in the status', () =>
    getTrace(undefined, 'kp')?.status?.nodes?.[0]?.probesFailed?.length ? getTrace(undefined, 'kp') : undefined,
  );
  expect(t.status?.nodes?.[0]).toMatchObject({
    name: 'n1',
    probesAttached: 1,
    probesFailed: [
      { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
      { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
    ],
  });
  expect(t.status?.phase).toBe('Degraded');
});

test('an invalid spec goes Failed with the field named, and runs nowhere', async () => {
  server.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name: 'bad', namespace: 'team' },
    spec: { packetFilter: 'tcp port', allowSystemChanges: false },
  });
  const t = await until('Failed', () =>
    getTrace('team', 'bad')?.status?.phase === 'Failed' ? getTrace('team', 'bad') : undefined,
  );
  expect(t.status?.message).toMatch(/^spec\.packetFilter: /);
  expect(t.status?.conditions?.find((c) => c.type === 'Valid')).toMatchObject({
    status: 'False',
    reason: 'InvalidSpec',
  });
  expect(agg.spec('team/bad')).toBeUndefined();
});

test('maxEvents ends a trace: Completed, removed from the agents; deletion waits for the finalizer', async () => {
  server.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'ClusterTrace',
    metadata: { name: 'wide' },
    spec: { nodeSelector: { zone: 'a' }, maxEvents: 10 },
  });
  expect(await until('the assignment', () => agg.spec('wide'))).toMatchObject({ nodes: ['n1'], namespaced: false });
  agg.summaries.set('wide', summary('wide', 12, ['n1']));
  const done = await until('Completed', () =>
    getTrace(undefined, 'wide')?.status?.phase === 'Completed' ? getTrace(undefined, 'wide') : undefined,
  );
  expect(done.status?.message).toMatch(/maxEvents 10/);
  expect(done.status?.endTime).toBeDefined();
  expect(agg.spec('wide')).toBeUndefined();

  server.delete('retrace.dev/v1alpha1', 'ClusterTrace', undefined, 'wide');
  await until(
    'the finalizer removed and the object gone',
    () => getTrace(undefined, 'wide') === undefined || undefined,
  );
});

test('a node joining that matches the selector is added to a running ClusterTrace', async () => {
  server.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'ClusterTrace',
    metadata: { name: 'za' },
    spec: { nodeSelector: { zone: 'a' } },
  });
  await until('n1', () => agg.spec('za'));
  server.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n3', labels: { zone: 'a' } } });
  await until('n3 added', () => (agg.spec('za')?.nodes?.includes('n3') ? true : undefined));
  const t = await until('n3 in status', () =>
    getTrace(undefined, 'za')?.status?.nodes?.some((n) => n.name === 'n3') ? getTrace(undefined, 'za') : undefined,
  );
  expect(t.status?.nodes?.find((n) => n.name === 'n3')?.state).toBe('no agent');
  expect(t.status?.phase).toBe('Pending');
});

test('leader election: one replica leads; when it steps down the other takes over', async () => {
  const events: string[] = [];
  const make = (id: string): LeaderElector =>
    new LeaderElector(api, {
      namespace: 'team',
      name: 'retrace-operator',
      identity: id,
      leaseDurationMs: 1000,
      renewMs: 200,
      retryMs: 100,
      onStarted: () => events.push(`${id} leads`),
      onStopped: () => events.push(`${id} stopped`),
    });
  const a = make('a');
  const b = make('b');
  a.start();
  await until('a leads', () => a.isLeader || undefined);
  b.start();
  await new Promise((r) => setTimeout(r, 400));
  expect(b.isLeader).toBe(false);
  await a.stop();
  await until('b leads', () => b.isLeader || undefined);
  await b.stop();
  expect(events).toEqual(['a leads', 'b leads']);
});
