// The whole flow through Kubernetes, as a user lives it: `kubectl retrace create` makes a
// ClusterTrace; the operator (a real retrace-operator process) assigns it to the agents (real
// processes, each owning a node's network namespaces); a pod on node A sends to a pod on node B,
// whose bridge drops it; the Trace's status shows each node's progress and the top drop reason;
// `kubectl retrace events` prints the journey across both nodes, `drops` says where it died,
// `stop` ends the trace.
//
// The API server is the run's real one (etcd + kube-apiserver, e2e/src/k8s/envtest.ts), with no
// kubelet: the nodes and pods are made through the API and their status reported as a kubelet
// would. The same flow on a whole cluster, retrace installed by its chart, is
// e2e/test/k8s-real-cluster.test.ts.
import { execFileSync } from 'node:child_process';
import type { TraceResource } from '@retrace/spec';
import {
  clientTlsArgs,
  clusterLabThroughApi,
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
import { sharedApiServer } from '../src/k8s/envtest.js';
import { TestObjects, installCrds, uniqueName } from '../src/k8s/test-objects.js';
import { tempDir } from './helpers.js';

/** What the scenario needs of a cluster: where its API is, and how to make the drop happen. */
interface ClusterUnderTest {
  kubeconfig: string;
  /** Flags that reach and trust the aggregator, for `events` and `drops`. */
  aggregatorArgs: string[];
  /** Nodes of the client and server pods. */
  clientNode: string;
  serverNode: string;
  /** The drop reason the server's node reports. */
  dropReason: string;
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
    return top === c.dropReason;
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

  // Following (through the trace's status): journeys print once each, and the command ends with
  // the trace.
  const following = runKubectlRetrace([
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
  const f = await following;
  expect(f.code).toBe(0);
  expect(f.stderr).toMatch(new RegExp(`^clustertrace\\.retrace\\.dev/${name}: Completed$`, 'm'));
  const heads = f.stdout.match(/^journey \S+/gm) ?? [];
  expect(heads.length).toBeGreaterThan(0);
  expect(new Set(heads).size).toBe(heads.length);
  expect(f.stdout).toMatch(/^journey \S+ across 2 nodes$/m);
  const after = await kr(c, ['events', name, '--cluster', '-o', '-', ...c.aggregatorArgs]);
  expect(after.stdout.trim().length).toBeGreaterThan(0);
}

// --- this machine: the test API server, network-namespace nodes, real processes ---

/** The ClusterTrace `name` (which `kubectl retrace create` makes) is removed with the rest. */
async function localCluster(name: string): Promise<ClusterUnderTest> {
  const server = await sharedApiServer();
  await installCrds(server.rest());
  const api = new TestObjects(server.kubeConfig());
  api.track({ apiVersion: 'retrace.dev/v1alpha1', kind: 'ClusterTrace', metadata: { name } });
  const procs: Proc[] = [];
  let lab: ClusterLab | undefined;
  let certs: TestCerts | undefined;
  const teardown = async (): Promise<void> => {
    for (const p of procs) await p.stop('SIGKILL');
    lab?.destroy();
    certs?.remove();
    await api.cleanup();
  };
  try {
    const ns = await api.namespace('team');
    const [clientNode, serverNode] = [uniqueName('node-a'), uniqueName('node-b')];
    const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    for (const node of [clientNode, serverNode]) await api.node(node, {}, kernel);
    const layout: Record<string, string[]> = { [clientNode]: [`${ns}/client`], [serverNode]: [`${ns}/server`] };
    lab = await clusterLabThroughApi(api, 'of', layout, (_ns, pod) => ({ app: pod }));
    // Node B's bridge refuses UDP to port 7777 (NETFILTER_DROP).
    lab
      .node(serverNode)
      .netns.nft(
        'table bridge rtlab_drop { chain drop_udp { type filter hook forward priority 0; udp dport 7777 drop; }; }',
      );
    certs = makeTestCerts();
    const operator = await startOperator({
      kubeconfig: server.kubeconfig,
      store: `${tmp.dir}/store`,
      certs,
      extra: ['--status-interval-ms', '300', '--lateness-ms', '500'],
    });
    procs.push(operator);
    for (const n of lab.nodes) {
      const agent = startAgent({ node: n.name, server: operator.address, certs, nodeNetns: lab.nodeNetns(n.name) });
      procs.push(agent);
    }
    const theCerts = certs;
    const client = lab.pod('client');
    const target = lab.pod('server');
    return {
      kubeconfig: server.kubeconfig,
      aggregatorArgs: clientTlsArgs(certs),
      clientNode,
      serverNode,
      dropReason: 'NETFILTER_DROP',
      send: () => client.netns.sendUdp(target.ip, 7777, 'journey-through-kubernetes'),
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

afterAll(() => tmp.remove());

describe('on this machine (the test API server, network-namespace nodes)', () => {
  let c: ClusterUnderTest | undefined;
  afterAll(async () => c?.teardown());

  test('create, status, journey, drops and stop through Kubernetes', async () => {
    const name = uniqueName('drops');
    c = await localCluster(name);
    await scenario(c, name);
  }, 180_000);
});
