// The whole flow through Kubernetes, as a user lives it: `kubectl retrace create` makes a
// ClusterTrace; the operator (a real retrace-operator process) assigns it to the agents (real
// processes, each owning a node's network namespaces); a pod on node A sends to a pod on node B,
// whose bridge drops it; the Trace's status shows each node's progress and the top drop reason;
// `kubectl retrace events` prints the journey across both nodes, `drops` says where it died,
// `stop` ends the trace.
//
// Here the API server is the in-process one of @retrace/kube-fake (no Kubernetes runs on this
// machine). With KUBECONFIG set, the same scenario runs against that cluster instead (retrace
// installed by its Helm chart; see e2e/README.md), and is skipped otherwise.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '@retrace/kube-fake';
import type { TraceResource } from '@retrace/operator';
import {
  clientTlsArgs,
  clusterLabThroughApi,
  freePort,
  makeTestCerts,
  runKubectlRetrace,
  runRetrace,
  startAgent,
  startOperator,
  waitForValue,
  type ClusterLab,
  type Proc,
  type RunResult,
  type TestCerts,
} from '@retrace/e2e';
import { parseLine, type Event } from '@retrace/events';
import { parse } from 'yaml';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the scenario needs of a cluster: where its API is, and how to make the drop happen. */
interface ClusterUnderTest {
  kubeconfig: string;
  /** Flags that reach and trust the aggregator, for `events` and `drops`. */
  aggregatorArgs: string[];
  /** Nodes of the client and server pods. */
  clientNode: string;
  serverNode: string;
  /** The drop reason the server's node reports (undefined: any). */
  dropReason?: string;
  /** Sends one UDP packet from the client pod to the server pod's port 7777. */
  send(): void;
  /** What the cluster's processes said (for failures). */
  logs(): string;
  teardown(): Promise<void>;
}

const tmp = tempDir();

async function kr(c: ClusterUnderTest, args: string[]): Promise<RunResult> {
  const r = await runKubectlRetrace([...args, '--kubeconfig', c.kubeconfig]);
  if (r.code !== 0) throw new Error(`kubectl retrace ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

async function traceOf(c: ClusterUnderTest, name: string): Promise<TraceResource> {
  return JSON.parse((await kr(c, ['get', name, '--cluster', '-o', 'json'])).stdout) as TraceResource;
}

const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> =>
  waitForValue(f, what, ms, 500);

/** Waits for the trace's status to satisfy `ok`; a timeout shows the last status and the logs. */
async function untilStatus(
  c: ClusterUnderTest,
  name: string,
  what: string,
  ok: (t: TraceResource) => boolean,
): Promise<TraceResource> {
  let last: TraceResource | undefined;
  try {
    return await until(what, async () => {
      last = await traceOf(c, name);
      return ok(last) ? last : undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}\n${c.logs()}`);
  }
}

/** The scenario: the same steps and checks on any cluster. */
async function scenario(c: ClusterUnderTest, name: string): Promise<void> {
  const created = await kr(c, [
    'create',
    name,
    '--cluster',
    '-c',
    'skb,skb-drop,skb-tracking,dev,ns',
    '-p',
    'tp:net:net_dev_start_xmit',
    '-p',
    'tp:net:netif_receive_skb',
    '-f',
    'udp port 7777',
    '--duration',
    '10m',
  ]);
  expect(created.stdout).toBe(`clustertrace.retrace.dev/${name} created\n`);

  // Running on both nodes, with the probes attached and the kernel each runs.
  const running = await untilStatus(
    c,
    name,
    'the trace running on both nodes',
    (t) => t.status?.phase === 'Running' && (t.status.nodesReady ?? 0) >= 2,
  );
  for (const node of [c.clientNode, c.serverNode]) {
    const n = running.status?.nodes?.find((x) => x.name === node);
    expect(n?.state).toBe('running');
    expect(n?.probesAttached).toBeGreaterThan(0);
    expect(n?.kernel).toMatch(/^\d+\.\d+/);
  }
  const listed = await kr(c, ['get', '-A']);
  expect(listed.stdout).toMatch(new RegExp(`^\\(cluster\\)\\s+${name}\\s+Running\\s+\\d+/\\d+`, 'm'));

  // The drop shows in the status: its reason on top, and the server's node counted events.
  c.send();
  let polls = 0;
  const dropped = await untilStatus(c, name, 'the drop in the status', (t) => {
    if (++polls % 6 === 0) c.send(); // again now and then: a packet may race the agents' pod mapping
    const top = t.status?.topDropReasons?.[0]?.reason;
    return !!top && (c.dropReason === undefined || top === c.dropReason);
  });
  const reason = dropped.status?.topDropReasons?.[0]?.reason ?? '';
  expect(dropped.status?.topDropReason).toMatch(new RegExp(`^${reason} \\(\\d+\\)$`));
  expect(dropped.status?.nodes?.find((n) => n.name === c.serverNode)?.events).toBeGreaterThan(0);
  expect(dropped.status?.topDropReasons?.[0]?.example).toContain(c.serverNode);
  const described = await kr(c, ['get', name, '--cluster']);
  expect(described.stdout).toMatch(/^Phase: +Running/m);
  expect(described.stdout).toContain(`Top drop reasons:\n  ${reason}: `);

  // The journey, sorted across the two nodes: it starts on the client's node and ends in the drop.
  const journey = await until('a journey across both nodes', async () => {
    const r = await kr(c, ['events', name, '--cluster', '-o', '-', ...c.aggregatorArgs]);
    for (const line of r.stdout.split('\n').filter((l) => l.trim())) {
      const v = parseLine(line, 1);
      const j: Event[] = Array.isArray(v) ? v : [v];
      const nodes = new Set(j.map((e) => e.k8s?.node));
      if (nodes.has(c.clientNode) && nodes.has(c.serverNode) && j.at(-1)?.['skb-drop']) return j;
    }
    return undefined;
  });
  expect(journey[0]?.k8s?.node).toBe(c.clientNode);
  expect(journey.at(-1)?.k8s?.node).toBe(c.serverNode);
  const printed = await kr(c, ['events', name, '--cluster', ...c.aggregatorArgs]);
  expect(printed.stdout).toMatch(/^journey \S+ across 2 nodes$/m);
  expect(printed.stdout).toContain(journey.at(-1)?.['skb-drop']?.drop_reason ?? 'no drop');

  // Where packets die: by reason, node and pod.
  const drops = await kr(c, ['drops', ...c.aggregatorArgs]);
  expect(drops.stdout).toMatch(new RegExp(`^${reason}\\s+\\d+$`, 'm'));
  expect(drops.stdout).toMatch(new RegExp(`^${reason}\\s+${c.serverNode}\\s+\\S+\\s+\\d+\\s+${name}$`, 'm'));

  // Following (through the trace's status; a --server port-forward has no end to wait for):
  // journeys print once each, and the command ends with the trace.
  const following = c.aggregatorArgs.includes('--server')
    ? undefined
    : runKubectlRetrace([
        'events',
        name,
        '--cluster',
        '-F',
        '--interval',
        '200',
        '--kubeconfig',
        c.kubeconfig,
        ...c.aggregatorArgs,
      ]);

  // Stopped: Completed, results kept.
  expect((await kr(c, ['stop', name, '--cluster'])).stdout).toBe(`clustertrace.retrace.dev/${name} stopped\n`);
  const done = await untilStatus(c, name, 'the trace completed', (t) => t.status?.phase === 'Completed');
  expect(done.status?.conditions?.find((x) => x.type === 'Complete')?.status).toBe('True');
  if (following) {
    const f = await following;
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(new RegExp(`^clustertrace\\.retrace\\.dev/${name}: Completed$`, 'm'));
    const heads = f.stdout.match(/^journey \S+/gm) ?? [];
    expect(heads.length).toBeGreaterThan(0);
    expect(new Set(heads).size).toBe(heads.length);
    expect(f.stdout).toMatch(/^journey \S+ across 2 nodes$/m);
  }
  const after = await kr(c, ['events', name, '--cluster', '-o', '-', ...c.aggregatorArgs]);
  expect(after.stdout.trim().length).toBeGreaterThan(0);
}

// --- this machine: the in-process API server, network-namespace nodes, real processes ---

async function localCluster(): Promise<ClusterUnderTest> {
  const api = await FakeApiServer.start({ bookmarkIntervalMs: 500 });
  const procs: Proc[] = [];
  let lab: ClusterLab | undefined;
  let certs: TestCerts | undefined;
  const teardown = async (): Promise<void> => {
    for (const p of procs) await p.stop('SIGKILL');
    lab?.destroy();
    certs?.remove();
    await api.stop();
  };
  try {
    for (const f of ['trace.yaml', 'clustertrace.yaml'])
      api.apply(parse(readFileSync(join(ROOT, 'crds', f), 'utf8')) as Parameters<typeof api.apply>[0]);
    const layout: Record<string, string[]> = { 'node-a': ['team/client'], 'node-b': ['team/server'] };
    for (const ns of ['team', 'retrace'])
      api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: ns } } });
    for (const node of Object.keys(layout))
      api.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node, labels: { 'kubernetes.io/hostname': node } },
        status: { nodeInfo: { kernelVersion: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim() } },
      });
    lab = clusterLabThroughApi(api, 'of', layout, (_ns, name) => ({ app: name }));
    // Node B's bridge refuses UDP to port 7777 (NETFILTER_DROP).
    lab
      .node('node-b')
      .netns.nft(
        'table bridge rtlab_drop { chain drop_udp { type filter hook forward priority 0; udp dport 7777 drop; }; }',
      );
    certs = makeTestCerts();
    const kubeconfig = api.writeKubeConfig(tmp.dir);
    const operator = await startOperator({
      kubeconfig,
      store: `${tmp.dir}/store`,
      certs,
      extra: ['--status-interval-ms', '300', '--lateness-ms', '500'],
    });
    procs.push(operator);
    for (const n of lab.nodes) {
      const agent = startAgent({ node: n.name, server: operator.address, certs, nodeNetns: lab.nodeNetns(n.name) });
      procs.push(agent);
    }
    const theLab = lab;
    const theCerts = certs;
    const client = theLab.pod('client');
    const server = theLab.pod('server');
    return {
      kubeconfig,
      aggregatorArgs: clientTlsArgs(certs),
      clientNode: 'node-a',
      serverNode: 'node-b',
      dropReason: 'NETFILTER_DROP',
      send: () => client.netns.sendUdp(server.ip, 7777, 'journey-through-kubernetes'),
      logs: () =>
        [
          ...procs.map((p, i) => `--- process ${i}:\n${p.log().slice(-3000)}`),
          `--- the aggregator's traces:\n${runRetrace(['traces', '--server', operator.address, ...clientTlsArgs(theCerts)]).stdout}`,
        ].join('\n'),
      teardown,
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}

// --- a real cluster (KUBECONFIG), with retrace installed by its chart ---

const REAL = process.env.KUBECONFIG && process.env.RETRACE_E2E_LOCAL_ONLY !== '1' ? process.env.KUBECONFIG : undefined;

function kubectl(args: string[], input?: string): string {
  return execFileSync('kubectl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * Two busybox pods on two different nodes in namespace retrace-e2e, a NetworkPolicy refusing
 * the server's ingress (the drop; its reason depends on the CNI), and a port-forward to the
 * aggregator. RETRACE_NAMESPACE and RETRACE_RELEASE say where the chart is (retrace, retrace).
 */
async function realCluster(kubeconfig: string): Promise<ClusterUnderTest> {
  const ns = 'retrace-e2e';
  const chartNs = process.env.RETRACE_NAMESPACE ?? 'retrace';
  const release = process.env.RETRACE_RELEASE ?? 'retrace';
  const nodes = kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']).split(/\s+/).filter(Boolean);
  const [clientNode, serverNode] = nodes;
  if (!clientNode || !serverNode) throw new Error(`the scenario needs two nodes; the cluster has ${nodes.length}`);
  const pod = (name: string, node: string): object => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      nodeName: node,
      containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'] }],
    },
  });
  kubectl(['create', 'namespace', ns]);
  let forward: ChildProcess | undefined;
  const teardown = async (): Promise<void> => {
    forward?.kill();
    kubectl(['delete', 'namespace', ns, '--wait=false']);
    await Promise.resolve();
  };
  try {
    kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('client', clientNode), pod('server', serverNode)] }),
    );
    kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'refuse-server', namespace: ns },
        spec: { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'] },
      }),
    );
    kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod/client', 'pod/server', '--timeout=120s']);
    const serverIp = kubectl(['get', 'pod', '-n', ns, 'server', '-o', 'jsonpath={.status.podIP}']).trim();
    const port = await freePort();
    forward = spawn('kubectl', ['port-forward', '-n', chartNs, `svc/${release}-aggregator`, `${port}:7443`], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 3000));
    return {
      kubeconfig,
      aggregatorArgs: [
        '--server',
        `127.0.0.1:${port}`,
        '--tls-server-name',
        `${release}-aggregator.${chartNs}.svc`,
        '--tls-secret',
        `${chartNs}/${release}-server-tls`,
      ],
      clientNode,
      serverNode,
      send: () => {
        kubectl(['exec', '-n', ns, 'client', '--', 'sh', '-c', `echo x | nc -u -w1 ${serverIp} 7777 || true`]);
      },
      logs: () => kubectl(['logs', '-n', chartNs, '-l', 'app.kubernetes.io/component=operator', '--tail', '50']),
      teardown,
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}

afterAll(() => tmp.remove());

describe('on this machine (in-process API server, network-namespace nodes)', () => {
  let c: ClusterUnderTest | undefined;
  afterAll(async () => c?.teardown());

  test('create, status, journey, drops and stop through Kubernetes', async () => {
    c = await localCluster();
    await scenario(c, 'drops');
  }, 180_000);
});

describe('on the cluster KUBECONFIG names', () => {
  if (!REAL) {
    test.skip('skipped: KUBECONFIG is not set (set it to a cluster with retrace installed to run this scenario there)', () =>
      undefined);
    return;
  }
  let c: ClusterUnderTest | undefined;
  afterAll(async () => c?.teardown());
  test('create, status, journey, drops and stop through Kubernetes', async () => {
    c = await realCluster(REAL);
    await scenario(c, `e2e-${Date.now().toString(36)}`);
  }, 600_000);
});
