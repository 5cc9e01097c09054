// retrace-operator --aggregator HOST:PORT, as the chart runs it with aggregator.separate: the
// operator (a real process, against the in-process Kubernetes API server with the real CRDs)
// runs no aggregator of its own and drives a separate retrace-aggregator process through its
// control API with mutual TLS; a real agent owns a node's network namespaces. A Trace is assigned
// through the separate aggregator, its status follows that aggregator's summary and names it as
// where the results are; restarting the operator leaves the running trace alone; deleting the
// Trace stops it on the node. Misconfigurations are said plainly.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '@retrace/kube-fake';
import type { TraceResource } from '@retrace/operator';
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
import { parse } from 'yaml';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPERATOR = join(ROOT, 'operator/dist/bin/retrace-operator.js');

const tmp = tempDir();
let api: FakeApiServer;
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

/** retrace-operator as a process, with the fake API server's kubeconfig. */
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

const getTrace = (): TraceResource | undefined =>
  api.get('retrace.dev/v1alpha1', 'Trace', 'team', 'pings') as TraceResource | undefined;

beforeAll(async () => {
  api = await FakeApiServer.start({ bookmarkIntervalMs: 500 });
  for (const f of ['trace.yaml', 'clustertrace.yaml'])
    api.apply(parse(readFileSync(join(ROOT, 'crds', f), 'utf8')) as Parameters<typeof api.apply>[0]);
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  api.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } });
  lab = clusterLabThroughApi(api, 'os', { 'node-a': ['team/client', 'team/server'] }, () => ({ app: 'pings' }));
  certs = makeTestCerts();
  kubeconfig = api.writeKubeConfig(tmp.dir);
});

// Each test its own processes: an operator left running would drive the next test's traces too.
afterEach(async () => {
  for (const o of operators.splice(0)) await o.kill('SIGKILL');
  for (const p of procs.splice(0)) await p.stop('SIGKILL');
});

afterAll(async () => {
  lab?.destroy();
  certs?.remove();
  await api?.stop();
  tmp.remove();
});

test('a Trace is assigned through the separate aggregator, its status names it, an operator restart leaves it running, deletion stops it', async () => {
  const agg = await startAggregator({ store: `${tmp.dir}/store`, certs, extra: ['--lateness-ms', '300'] });
  procs.push(agg);
  const agent = startAgent({ node: 'node-a', server: agg.address, certs, nodeNetns: lab.nodeNetns('node-a') });
  procs.push(agent);
  await agg.waitFor(/agent node-a registered/);

  const operatorArgs = driving(agg.address);
  const op = startOperator(operatorArgs);
  await op.waitFor(/controller started/);
  expect(op.log()).toContain(`driving the aggregator at ${agg.address} (mutual TLS)`);
  expect(op.log()).not.toMatch(/listening on/); // no aggregator of its own

  api.apply({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name: 'pings', namespace: 'team' },
    spec: {
      collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
      probes: ['tp:net:netif_receive_skb'],
      packetFilter: 'icmp',
      podSelector: { matchLabels: { app: 'pings' } },
    },
  });
  await agent.waitFor(/trace team\/pings: \d+ probe\(s\) attached/);
  expect(agg.log()).toMatch(/traces from the operator \S+ \(revision \w+\): team\/pings/);

  // The status follows the separate aggregator's summary: the node running, the pings counted.
  const running = await until('Running with events', () => {
    lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
    const t = getTrace();
    return t?.status?.phase === 'Running' && (t.status.events ?? 0) > 0 ? t : undefined;
  });
  expect(running.status?.results).toMatchObject({ aggregator: agg.address, trace: 'team/pings' });
  expect(running.status?.nodes?.find((n) => n.name === 'node-a')).toMatchObject({ state: 'running' });
  expect(running.status?.nodes?.[0]?.probesAttached).toBeGreaterThan(0);

  // The operator goes away and comes back: the aggregator kept running the trace meanwhile, and
  // the new operator, finding the same set there, changes nothing on the node.
  await op.kill('SIGKILL');
  const setsBefore = count(agg.log(), /traces from the operator/);
  const eventsBefore = running.status?.events ?? 0;
  const op2 = startOperator(operatorArgs);
  await op2.waitFor(/already runs these traces \(revision \w+\): team\/pings/);
  const later = await until('more events counted by the new operator', () => {
    lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
    const t = getTrace();
    return t?.status?.phase === 'Running' && (t.status.events ?? 0) > eventsBefore ? t : undefined;
  });
  expect(later.status?.results?.aggregator).toBe(agg.address);
  expect(count(agent.log(), /trace team\/pings: \d+ probe\(s\) attached/)).toBe(1);
  expect(agent.log()).not.toMatch(/trace team\/pings complete/);
  expect(count(agg.log(), /traces from the operator/)).toBe(setsBefore);

  // Deleted: stopped on the node, then the finalizer lets it go.
  api.delete('retrace.dev/v1alpha1', 'Trace', 'team', 'pings');
  await agent.waitFor(/trace team\/pings complete: removed/);
  await until('the Trace gone', () => (getTrace() === undefined ? true : undefined));
  expect(agg.log()).toMatch(/traces from the operator \S+ \(revision \w+\): none/);
});

test('while the aggregator is away the operator retries, and the latest set is what it gets', async () => {
  const store = `${tmp.dir}/store-retry`;
  let agg = await startAggregator({ store, certs });
  procs.push(agg);
  const agent = startAgent({
    node: 'node-a',
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns('node-a'),
    extra: ['--orphan-timeout-ms', '120000'],
  });
  procs.push(agent);
  await agg.waitFor(/agent node-a registered/);
  const op = startOperator(driving(agg.address));
  await op.waitFor(/controller started/);
  const trace = (name: string): Parameters<typeof api.apply>[0] => ({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name, namespace: 'team' },
    spec: {
      probes: ['tp:net:netif_receive_skb'],
      packetFilter: 'icmp',
      podSelector: { matchLabels: { app: 'pings' } },
    },
  });
  api.apply(trace('first'));
  await agent.waitFor(/trace team\/first: \d+ probe\(s\) attached/);

  // The aggregator goes away; two more traces are made meanwhile.
  const port = Number(agg.address.split(':')[1]);
  await agg.stop('SIGTERM');
  api.apply(trace('second'));
  await op.waitFor(
    /cannot set the traces: cannot reach the aggregator at \S+: connection refused .* \(retrying with backoff/,
  );
  api.apply(trace('third'));
  // Its status written: the operator has added it to the set it wants the aggregator to run.
  await until(
    'the third trace reconciled',
    () => (api.get('retrace.dev/v1alpha1', 'Trace', 'team', 'third') as TraceResource | undefined)?.status?.phase,
  );

  // Back (same address and store): it first runs the set it kept, then takes the operator's
  // latest, whole, in one go: the intermediate set (first, second) never reaches it.
  agg = await startAggregator({ store, certs, port });
  procs.push(agg);
  expect(agg.log()).toContain("traces kept from the operator's last set: team/first");
  await agg.waitFor(/traces from the operator \S+ \(revision \w+\): team\/first, team\/second, team\/third/);
  expect(agg.log()).not.toMatch(/: team\/first, team\/second\n/);
  await agent.waitFor(/trace team\/third: \d+ probe\(s\) attached/);
  await agent.waitFor(/trace team\/second: \d+ probe\(s\) attached/);
  await op.waitFor(/took the traces again/);
  for (const name of ['first', 'second', 'third']) api.delete('retrace.dev/v1alpha1', 'Trace', 'team', name);
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
