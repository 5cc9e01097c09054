// The controller driven through @kubernetes/client-node against a real API server (the run's
// shared etcd + kube-apiserver, with the real CRDs from crds/): finalizer, targets, assignments,
// status, stop conditions, deletion, nodes joining, leader election. Each test has its own
// namespace, nodes and ClusterTrace names, and removes them. The aggregator side is a recorder
// the test scripts: the agents' part is covered end to end in e2e/.
import type { TraceSpec, TraceSummary } from '@retrace/events';
import { sharedApiServer, startApiServer } from '../src/k8s/envtest.js';
import type { KubeObject } from '../src/k8s/rest.js';
import { TestObjects, installCrds, uniqueName } from '../src/k8s/test-objects.js';
import { KubeApi, LeaderElector, TraceController, type AggregatorPort } from '@retrace/operator';
import { packetFilterChecker } from '@retrace/agent';
import { checkPacketFilter, type TraceResource } from '@retrace/spec';

class RecordingAggregator implements AggregatorPort {
  specs: TraceSpec[] = [];
  summaries = new Map<string, TraceSummary>();
  connected: string[] = [];
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
  store_problem: '',
});

let objects: TestObjects;
let api: KubeApi;
let agg: RecordingAggregator;
let controller: TraceController;
/** This test's namespace and nodes (n1 in zone a, n2 in zone b). */
let ns: string;
let n1: string;
let n2: string;

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const traceRef = (namespace: string | undefined, name: string): KubeObject => ({
  apiVersion: 'retrace.dev/v1alpha1',
  kind: namespace ? 'Trace' : 'ClusterTrace',
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

const getTrace = async (namespace: string | undefined, name: string): Promise<TraceResource | undefined> =>
  (await objects.rest.get(traceRef(namespace, name))) as TraceResource | undefined;

/** The trace once `ok` holds for it. */
const untilTrace = (
  what: string,
  namespace: string | undefined,
  name: string,
  ok: (t: TraceResource) => unknown,
): Promise<TraceResource> =>
  until(what, async () => {
    const t = await getTrace(namespace, name);
    return t && ok(t) ? t : undefined;
  });

const makeTrace = (namespace: string | undefined, name: string, spec: object): Promise<KubeObject> =>
  objects.create({ ...traceRef(namespace, name), spec });

beforeAll(async () => {
  const server = await sharedApiServer();
  await installCrds(server.rest());
  api = new KubeApi(server.kubeConfig());
});

beforeEach(async () => {
  objects = new TestObjects(api.config);
  ns = await objects.namespace('team');
  const id = uniqueName('ctl');
  [n1, n2] = [`${id}-n1`, `${id}-n2`];
  await objects.node(n1, { zone: 'a' });
  await objects.node(n2, { zone: 'b' });
  await objects.pod(ns, 'web', n1, { app: 'web' }, { ip: '10.1.0.5', containerId: 'c0ffee' });
  agg = new RecordingAggregator();
  agg.connected = [n1, n2];
  controller = new TraceController(api, agg, { statusIntervalMs: 100, log: () => undefined });
  await controller.start();
});

afterEach(async () => {
  controller.stop();
  await objects.cleanup();
});

test('a Trace gets a finalizer, runs on its pods node, and its status follows the aggregator', async () => {
  await makeTrace(ns, 'drops', {
    collectors: ['skb-drop'],
    packetFilter: 'udp',
    podSelector: { matchLabels: { app: 'web' } },
  });
  const key = `${ns}/drops`;
  const spec = await until('the assignment', () => agg.spec(key));
  expect(spec).toMatchObject({ namespaced: true, nodes: [n1], filter: 'udp', collectors: ['skb-drop'] });
  expect(spec.pods?.map((p) => [p.name, p.ips, p.containers])).toEqual([['web', ['10.1.0.5'], ['c0ffee']]]);
  const pending = await untilTrace('a status', ns, 'drops', (t) => t.status?.phase);
  expect(pending.metadata.finalizers).toContain('retrace.dev/results');
  expect(pending.status).toMatchObject({
    phase: 'Pending',
    nodesTotal: 1,
    results: { trace: key, aggregator: 'aggregator.test:7443' },
  });

  agg.summaries.set(key, summary(key, 7, [n1], 'NETFILTER_DROP'));
  const running = await untilTrace('Running', ns, 'drops', (t) => t.status?.phase === 'Running');
  expect(running.status).toMatchObject({ nodesReady: 1, events: 7, topDropReason: 'NETFILTER_DROP (2)' });
  expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
});

test("probes that failed on a node are in its status by name, with the agent's reason", async () => {
  const kp = uniqueName('kp');
  await makeTrace(undefined, kp, { nodeSelector: { zone: 'a' }, probes: ['kprobe:ip_rcv', 'fentry:tcp_v4_rcv'] });
  await until('the assignment', () => agg.spec(kp));
  const s = summary(kp, 3, [n1]);
  Object.assign(s.nodes?.[0] ?? {}, {
    probes_attached: 1,
    probes_failed: 2,
    failed_probes: [
      { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
      { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
    ],
  });
  agg.summaries.set(kp, s);
  const t = await untilTrace('the failed probes in the status', undefined, kp, (x) =>
    x.status?.nodes?.[0]?.probesFailed?.length ? x : undefined,
  );
  expect(t.status?.nodes?.[0]).toMatchObject({
    name: n1,
    probesAttached: 1,
    probesFailed: [
      { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
      { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
    ],
  });
  expect(t.status?.phase).toBe('Degraded');
});

test('an invalid spec goes Failed with the field named, and runs nowhere', async () => {
  await makeTrace(ns, 'bad', { allowSystemChanges: true });
  const t = await untilTrace('Failed', ns, 'bad', (x) => x.status?.phase === 'Failed');
  expect(t.status?.message).toMatch(/^spec\.allowSystemChanges: a namespaced Trace may not change the nodes/);
  expect(t.status?.conditions?.find((c) => c.type === 'Valid')).toMatchObject({
    status: 'False',
    reason: 'InvalidSpec',
  });
  expect(agg.spec(`${ns}/bad`)).toBeUndefined();
});

test("a packet filter the agents refuse fails the trace with the field and libpcap's complaint", async () => {
  // The operator has no libpcap: the trace goes to its node, whose agent compiles the filter
  // when the trace starts and refuses it (what a real agent says, e2e/test/agent-refusal.test.ts).
  await makeTrace(ns, 'badfilter', { packetFilter: 'tcp port' });
  const key = `${ns}/badfilter`;
  expect(await until('the assignment', () => agg.spec(key))).toMatchObject({ filter: 'tcp port', nodes: [n1] });
  let refusal = '';
  try {
    checkPacketFilter('tcp port', packetFilterChecker);
  } catch (e) {
    refusal = (e as Error).message;
  }
  expect(refusal).toMatch(/^spec\.packetFilter: invalid packet filter 'tcp port': .*syntax error/);
  const s = summary(key, 0, [n1]);
  Object.assign(s.nodes?.[0] ?? {}, { state: 'failed', probes_attached: 0, error: refusal });
  agg.summaries.set(key, s);
  const t = await untilTrace('Failed', ns, 'badfilter', (x) => x.status?.phase === 'Failed');
  expect(t.status?.message).toBe(refusal);
  expect(t.status?.conditions?.find((c) => c.type === 'Valid')).toMatchObject({
    status: 'False',
    reason: 'InvalidSpec',
    message: refusal,
  });
  expect(t.status?.nodes?.[0]).toMatchObject({ name: n1, state: 'failed', message: refusal });
});

test('maxEvents ends a trace: Completed, removed from the agents; deletion waits for the finalizer', async () => {
  const wide = uniqueName('wide');
  await makeTrace(undefined, wide, { nodeSelector: { zone: 'a' }, maxEvents: 10 });
  expect(await until('the assignment', () => agg.spec(wide))).toMatchObject({ nodes: [n1], namespaced: false });
  agg.summaries.set(wide, summary(wide, 12, [n1]));
  const done = await untilTrace('Completed', undefined, wide, (t) => t.status?.phase === 'Completed');
  expect(done.status?.message).toMatch(/maxEvents 10/);
  expect(done.status?.endTime).toBeDefined();
  expect(agg.spec(wide)).toBeUndefined();

  await objects.rest.delete(traceRef(undefined, wide));
  await until('the finalizer removed and the object gone', async () => (await getTrace(undefined, wide)) === undefined);
});

test('a node joining that matches the selector is added to a running ClusterTrace', async () => {
  const za = uniqueName('za');
  await makeTrace(undefined, za, { nodeSelector: { zone: 'a' } });
  await until('n1', () => agg.spec(za));
  const n3 = n1.replace(/n1$/, 'n3');
  await objects.node(n3, { zone: 'a' });
  await until('n3 added', () => (agg.spec(za)?.nodes?.includes(n3) ? true : undefined));
  const t = await untilTrace('n3 in status', undefined, za, (x) => x.status?.nodes?.some((n) => n.name === n3));
  expect(t.status?.nodes?.find((n) => n.name === n3)?.state).toBe('no agent');
  expect(t.status?.phase).toBe('Pending');
});

test('leader election: one replica leads; when it steps down the other takes over', async () => {
  const events: string[] = [];
  const make = (id: string): LeaderElector =>
    new LeaderElector(api, {
      namespace: ns,
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

test('started before its CRDs exist (helm installs both at once), the controller waits for them', async () => {
  const own = await startApiServer(); // a server without the CRDs
  const late = new TraceController(new KubeApi(own.kubeConfig()), new RecordingAggregator(), {
    statusIntervalMs: 100,
    log: () => undefined,
  });
  try {
    let started = false;
    const starting = late.start().then(() => (started = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toBe(false); // listing traces: 404, then 429 while the new CRD's storage starts
    await installCrds(own.rest());
    await starting;
    const mine = new TestObjects(own.kubeConfig());
    await mine.create({ ...traceRef(undefined, 'late'), spec: {} });
    const t = await until('a status', async () => {
      const got = (await mine.rest.get(traceRef(undefined, 'late'))) as TraceResource | undefined;
      return got?.status?.phase ? got : undefined;
    });
    expect(t.metadata.finalizers).toContain('retrace.dev/results');
  } finally {
    late.stop();
    await own.stop();
  }
}, 60_000);
