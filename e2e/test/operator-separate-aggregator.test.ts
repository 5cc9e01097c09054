// retrace-operator --aggregator HOST:PORT, as the chart runs it with aggregator.separate: the
// operator (a real process, against the run's real test API server with the real CRDs)
// runs no aggregator of its own and drives a separate retrace-aggregator process through its
// control API with mutual TLS; a real agent owns a node's network namespaces. A Trace is assigned
// through the separate aggregator, its status follows that aggregator's summary and names it as
// where the results are; restarting the operator leaves the running trace alone; deleting the
// Trace stops it on the node. Misconfigurations are said plainly.
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceResource } from '@retrace/spec';
import {
  clusterLabThroughApi,
  freePort,
  makeTestCerts,
  startAgent,
  startAggregator,
  type ClusterLab,
  type Proc,
  type TestCerts,
  waitForValue,
} from '@retrace/e2e';
import { sharedApiServer } from '../src/k8s/envtest.js';
import type { KubeObject } from '../src/k8s/rest.js';
import { TestObjects, installCrds, uniqueName } from '../src/k8s/test-objects.js';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPERATOR = join(ROOT, 'operator/dist/bin/retrace-operator.js');

const tmp = tempDir();
let api: TestObjects;
/** This file's namespace (its pods and Traces) and node. */
let ns: string;
let node: string;
let certs: TestCerts;
let lab: ClusterLab;
let kubeconfig: string;
const procs: Proc[] = [];
const operators: Operator[] = [];

interface Operator {
  child: ChildProcess;
  log(): string;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * The operator driving the aggregator at `address`. It presents the aggregator's certificate as
 * its client certificate, as the chart mounts it (one Secret, server and client use).
 */
const driving = (address: string): string[] => [
  '--aggregator',
  address,
  '--ca',
  certs.ca,
  '--cert',
  certs.serverCert,
  '--key',
  certs.serverKey,
  '--status-interval-ms',
  '300',
  '--aggregator-refresh-ms',
  '300',
];

/** retrace-operator as a process, with the test API server's kubeconfig. */
function startOperator(args: string[]): Operator {
  const child = spawn(process.execPath, [OPERATOR, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: kubeconfig },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let done = false;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      done = true;
      r(code);
    }),
  );
  const op: Operator = {
    child,
    log: () => out,
    exited,
    waitFor: async (re, ms = 30_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (done) throw new Error(`retrace-operator exited before ${re}:\n${out}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill: (signal) => {
      if (!done) child.kill(signal);
      return exited;
    },
  };
  operators.push(op);
  return op;
}

const until = <T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> =>
  waitForValue(f, what, ms, 200);

const count = (text: string, re: RegExp): number => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

function readyz(port: number): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${port}/readyz`, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const traceRef = (name: string): KubeObject => ({
  apiVersion: 'retrace.dev/v1alpha1',
  kind: 'Trace',
  metadata: { name, namespace: ns },
});

const getTrace = async (name = 'pings'): Promise<TraceResource | undefined> =>
  (await api.rest.get(traceRef(name))) as TraceResource | undefined;

beforeAll(async () => {
  const server = await sharedApiServer();
  await installCrds(server.rest());
  api = new TestObjects(server.kubeConfig());
  ns = await api.namespace('team');
  node = uniqueName('node-a');
  await api.node(node);
  lab = await clusterLabThroughApi(api, 'os', { [node]: [`${ns}/client`, `${ns}/server`] }, () => ({ app: 'pings' }));
  certs = makeTestCerts();
  kubeconfig = server.kubeconfig;
});

// Each test its own processes: an operator left running would drive the next test's traces too.
afterEach(async () => {
  for (const o of operators.splice(0)) await o.kill('SIGKILL');
  for (const p of procs.splice(0)) await p.stop('SIGKILL');
});

afterAll(async () => {
  lab?.destroy();
  certs?.remove();
  await api?.cleanup();
  tmp.remove();
});

test('a Trace is assigned through the separate aggregator, its status names it, an operator restart leaves it running, deletion stops it', async () => {
  const agg = await startAggregator({ store: `${tmp.dir}/store`, certs, extra: ['--lateness-ms', '300'] });
  procs.push(agg);
  const agent = startAgent({ node, server: agg.address, certs, nodeNetns: lab.nodeNetns(node) });
  procs.push(agent);
  await agg.waitFor(new RegExp(`agent ${node} registered`));

  const operatorArgs = driving(agg.address);
  const op = startOperator(operatorArgs);
  await op.waitFor(/controller started/);
  expect(op.log()).toContain(`driving the aggregator at ${agg.address} (mutual TLS)`);
  expect(op.log()).not.toMatch(/listening on/); // no aggregator of its own

  await api.create({
    ...traceRef('pings'),
    spec: {
      collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
      probes: ['tp:net:netif_receive_skb'],
      packetFilter: 'icmp',
      podSelector: { matchLabels: { app: 'pings' } },
    },
  });
  await agent.waitFor(new RegExp(`trace ${ns}/pings: \\d+ probe\\(s\\) attached`));
  expect(agg.log()).toMatch(new RegExp(`traces from the operator \\S+ \\(revision \\w+\\): ${ns}/pings`));

  // The status follows the separate aggregator's summary: the node running, the pings counted.
  const running = await until('Running with events', async () => {
    lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
    const t = await getTrace();
    return t?.status?.phase === 'Running' && (t.status.events ?? 0) > 0 ? t : undefined;
  });
  expect(running.status?.results).toMatchObject({ aggregator: agg.address, trace: `${ns}/pings` });
  expect(running.status?.nodes?.find((n) => n.name === node)).toMatchObject({ state: 'running' });
  expect(running.status?.nodes?.[0]?.probesAttached).toBeGreaterThan(0);

  // The operator goes away and comes back: the aggregator kept running the trace meanwhile, and
  // the new operator, finding the same set there, changes nothing on the node.
  await op.kill('SIGKILL');
  const setsBefore = count(agg.log(), /traces from the operator/);
  const eventsBefore = running.status?.events ?? 0;
  const op2 = startOperator(operatorArgs);
  await op2.waitFor(new RegExp(`already runs these traces \\(revision \\w+\\): ${ns}/pings`));
  const later = await until('more events counted by the new operator', async () => {
    lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
    const t = await getTrace();
    return t?.status?.phase === 'Running' && (t.status.events ?? 0) > eventsBefore ? t : undefined;
  });
  expect(later.status?.results?.aggregator).toBe(agg.address);
  expect(count(agent.log(), new RegExp(`trace ${ns}/pings: \\d+ probe\\(s\\) attached`))).toBe(1);
  expect(agent.log()).not.toContain(`trace ${ns}/pings complete`);
  expect(count(agg.log(), /traces from the operator/)).toBe(setsBefore);

  // Deleted: stopped on the node, then the finalizer lets it go.
  await api.rest.delete(traceRef('pings'));
  await agent.waitFor(new RegExp(`trace ${ns}/pings complete: removed`));
  await until('the Trace gone', async () => ((await getTrace()) === undefined ? true : undefined));
  expect(agg.log()).toMatch(/traces from the operator \S+ \(revision \w+\): none/);
});

test('while the aggregator is away the operator retries, and the latest set is what it gets', async () => {
  const store = `${tmp.dir}/store-retry`;
  let agg = await startAggregator({ store, certs });
  procs.push(agg);
  const agent = startAgent({
    node,
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns(node),
    extra: ['--orphan-timeout-ms', '120000'],
  });
  procs.push(agent);
  await agg.waitFor(new RegExp(`agent ${node} registered`));
  const op = startOperator(driving(agg.address));
  await op.waitFor(/controller started/);
  const trace = (name: string): KubeObject => ({
    ...traceRef(name),
    spec: {
      probes: ['tp:net:netif_receive_skb'],
      packetFilter: 'icmp',
      podSelector: { matchLabels: { app: 'pings' } },
    },
  });
  await api.create(trace('first'));
  await agent.waitFor(new RegExp(`trace ${ns}/first: \\d+ probe\\(s\\) attached`));

  // The aggregator goes away; two more traces are made meanwhile.
  const port = Number(agg.address.split(':')[1]);
  await agg.stop('SIGTERM');
  await api.create(trace('second'));
  await op.waitFor(
    /cannot set the traces: cannot reach the aggregator at \S+: connection refused .* \(retrying with backoff/,
  );
  await api.create(trace('third'));
  // Its status written: the operator has added it to the set it wants the aggregator to run.
  await until('the third trace reconciled', async () => (await getTrace('third'))?.status?.phase);

  // Back (same address and store): it first runs the set it kept, then takes the operator's
  // latest, whole, in one go: the intermediate set (first, second) never reaches it.
  agg = await startAggregator({ store, certs, port });
  procs.push(agg);
  expect(agg.log()).toContain(`traces kept from the operator's last set: ${ns}/first`);
  await agg.waitFor(
    new RegExp(`traces from the operator \\S+ \\(revision \\w+\\): ${ns}/first, ${ns}/second, ${ns}/third`),
  );
  expect(agg.log()).not.toContain(`: ${ns}/first, ${ns}/second\n`);
  await agent.waitFor(new RegExp(`trace ${ns}/third: \\d+ probe\\(s\\) attached`));
  await agent.waitFor(new RegExp(`trace ${ns}/second: \\d+ probe\\(s\\) attached`));
  await op.waitFor(/took the traces again/);
  for (const name of ['first', 'second', 'third']) await api.rest.delete(traceRef(name));
  await agg.waitFor(/traces from the operator \S+ \(revision \w+\): none/);
});

test('an operator that cannot use the aggregator says why, and is not ready', async () => {
  const agg = await startAggregator({ store: `${tmp.dir}/store-2`, certs });
  procs.push(agg);
  const metrics = await freePort();
  // The CA given is not the one that signed the aggregator's certificate.
  const op = startOperator([
    '--aggregator',
    agg.address,
    '--ca',
    `${certs.dir}/rogue-ca.crt`,
    '--cert',
    certs.serverCert,
    '--key',
    certs.serverKey,
    '--metrics-port',
    String(metrics),
  ]);
  await op.waitFor(
    new RegExp(
      `the aggregator at ${agg.address} presents a certificate the CA in --ca \\S+rogue-ca\\.crt did not sign ` +
        `\\(self-signed certificate in certificate chain\\): give the CA that signed the aggregator's certificate`,
    ),
  );
  const r = await until('the health port', () => readyz(metrics).catch(() => undefined));
  expect(r.code).toBe(503);
  expect(r.body).toContain('did not sign');
  expect(op.log()).not.toMatch(/controller started/); // nothing is reconciled without its aggregator

  // Nothing listens there.
  const nowhere = startOperator(['--aggregator', '127.0.0.1:1', '--insecure']);
  await nowhere.waitFor(
    /cannot reach the aggregator at 127\.0\.0\.1:1: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:1\)\. Is retrace-aggregator running/,
  );

  // Flags of an aggregator's own are refused with --aggregator, naming the flag.
  const wrong = startOperator(['--aggregator', agg.address, '--store', `${tmp.dir}/x`, '--insecure']);
  expect(await wrong.exited).toBe(2);
  expect(wrong.log()).toContain(
    "retrace-operator: --store is retrace-aggregator's: with --aggregator the operator runs no aggregator (give it there)",
  );
});
