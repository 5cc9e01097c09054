// Several agents as real processes, each owning one "node" (its network namespaces), one
// aggregator, real gRPC with mutual TLS over loopback. A pod on node A sends to a pod on node B
// over the VXLAN overlay; node B drops it. The aggregator shows one journey, in order.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import {
  clientTlsArgs,
  clusterLab,
  makeTestCerts,
  runRetrace,
  startAgent,
  startAggregator,
  type ClusterLab,
  type Proc,
  type TestCerts,
  waitForValue,
} from '@retrace/e2e';
import { parseLine, parsePacketBase64, type Event } from '@retrace/events';
import { tearDownCluster, tempDir } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('cj', { nodes: { 'node-a': ['team/client'], 'node-b': ['team/server', 'other/intruder'] } });
  // The drop on node B: its bridge refuses UDP to port 7777 (NETFILTER_DROP).
  lab
    .node('node-b')
    .netns.nft(
      'table bridge rtlab_drop { chain drop_udp { type filter hook forward priority 0; udp dport 7777 drop; }; }',
    );
});

afterAll(() => tearDownCluster({ procs, lab, certs, tmp }));

function journeysOf(text: string): Event[][] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const v = parseLine(l, i + 1);
      return Array.isArray(v) ? v : [v];
    });
}

const waitUntil = <T>(what: string, f: () => T | undefined): Promise<T> => waitForValue(f, what, 30_000, 300);

test('a pod-to-pod packet dropped on node B is one journey from node A to the drop, in order', async () => {
  const traces = `${tmp.dir}/traces.yaml`;
  writeFileSync(
    traces,
    JSON.stringify({
      traces: [
        {
          name: 'drops', // cluster-wide: the drop happens in node B's own namespace, not in a pod's
          collectors: ['skb', 'skb-drop', 'skb-tracking', 'dev', 'ns'],
          probes: ['tp:net:net_dev_start_xmit', 'tp:net:netif_receive_skb'],
          filter: 'udp port 7777', // node B starts following it once decapsulated
          pods: lab.podRefs(),
        },
      ],
    }),
  );
  const agg = await startAggregator({ store: `${tmp.dir}/store`, traces, certs, extra: ['--lateness-ms', '500'] });
  procs.push(agg);
  for (const n of lab.nodes) {
    const a = startAgent({
      node: n.name,
      server: agg.address,
      certs,
      nodeNetns: lab.nodeNetns(n.name),
    });
    procs.push(a);
    await a.waitFor(/trace drops: \d+ probe\(s\) attached/);
  }
  const client = lab.pod('client');
  const server = lab.pod('server');
  client.netns.sendUdp(server.ip, 7777, 'journey-across-nodes');

  const server_ = ['--server', agg.address, ...clientTlsArgs(certs)];
  const journey = await waitUntil('the journey', () => {
    const r = runRetrace(['events', 'drops', '-o', '-', ...server_]);
    if (r.code !== 0) throw new Error(r.stderr);
    return journeysOf(r.stdout).find(
      (j) => j.some((e) => e['skb-drop']) && new Set(j.map((e) => e.k8s?.node)).size === 2,
    );
  });
  const hops = journey.map((e) => ({
    node: e.k8s?.node,
    pod: e.k8s?.pod,
    where: e.kernel?.symbol,
    dev: e.dev?.name,
    drop: e['skb-drop']?.drop_reason,
  }));
  if (hops[0]?.pod !== 'client') console.log(JSON.stringify(hops, null, 1));
  // Starts in the client pod on node A, ends dropped on node B.
  expect(hops[0]).toMatchObject({ node: 'node-a', pod: 'client', where: 'net:net_dev_start_xmit', dev: 'eth0' });
  expect(hops.at(-1)).toMatchObject({ node: 'node-b', drop: 'NETFILTER_DROP' });
  // Node A's hops all come before node B's, and the times never go backwards.
  const firstB = hops.findIndex((h) => h.node === 'node-b');
  expect(hops.slice(firstB).every((h) => h.node === 'node-b')).toBe(true);
  expect(hops.slice(0, firstB).some((h) => h.dev === 'u0')).toBe(true); // left node A through the underlay
  const ts = journey.map((e) => e.journey?.cluster_ts ?? 0n);
  expect([...ts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(ts);
  expect(journey.every((e) => e.journey?.id === journey[0]?.journey?.id && e.journey?.nodes === 2)).toBe(true);
  const inner = journey.map((e) => parsePacketBase64(e.packet?.data ?? ''));
  expect(inner.some((p) => p.tunnel?.vni === 1)).toBe(true); // the VXLAN hops are part of it
  expect(new Set(journey.map((e) => e.k8s?.node))).toEqual(new Set(['node-a', 'node-b']));

  // The same journey as pcap-ng: one interface per node and probe, each packet with its journey.
  const pcap = `${tmp.dir}/drops.pcapng`;
  expect(runRetrace(['events', 'drops', '--pcap', pcap, '--drop-reason', 'NETFILTER_DROP', ...server_]).code).toBe(0);
  const t = spawnSync(
    'tshark',
    ['-r', pcap, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment'],
    {
      encoding: 'utf8',
    },
  );
  expect(t.status).toBe(0);
  const rows = t.stdout
    .trim()
    .split('\n')
    .map((l) => l.split('|'));
  expect(rows.some(([iface]) => iface === 'node-a/raw_tracepoint/net:net_dev_start_xmit')).toBe(true);
  expect(rows.some(([iface]) => iface?.startsWith('node-b/'))).toBe(true);
  expect(rows.filter(([, c]) => c?.includes(`[journey ${journey[0]?.journey?.id} #`)).length).toBe(journey.length);

  const sum = runRetrace(['summary', 'drops', ...server_]);
  expect(sum.stdout).toMatch(/stitched across nodes: [1-9]/);
  expect(sum.stdout).toMatch(/node node-a \[running\]/);
  expect(sum.stdout).toMatch(/NETFILTER_DROP: \d+, e\.g\. /);
});

test("a namespaced trace sees only its own pods' namespaces, enforced in the kernel", async () => {
  const traces = `${tmp.dir}/ns.yaml`;
  writeFileSync(
    traces,
    JSON.stringify({
      traces: [
        {
          name: 'mine',
          namespace: 'team',
          collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
          probes: ['tp:net:net_dev_start_xmit', 'tp:net:netif_receive_skb'],
          filter: 'icmp',
          pods: lab.podRefs('team'),
        },
      ],
    }),
  );
  const agg = await startAggregator({ store: `${tmp.dir}/ns-store`, traces, certs, extra: ['--lateness-ms', '300'] });
  procs.push(agg);
  for (const n of lab.nodes) {
    const a = startAgent({
      node: n.name,
      server: agg.address,
      certs,
      nodeNetns: lab.nodeNetns(n.name),
    });
    procs.push(a);
    await a.waitFor(/trace team\/mine: \d+ probe\(s\) attached/);
  }
  // The intruder (another namespace) pings a team pod, and the team's client pings the server.
  lab.pod('intruder').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('client').ip]);
  lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
  const server_ = ['--server', agg.address, ...clientTlsArgs(certs)];
  const events = await waitUntil('events of both team pods', () => {
    const r = runRetrace(['events', 'team/mine', '-o', '-', ...server_]);
    const evs = journeysOf(r.stdout).flat();
    const pods = new Set(evs.map((e) => e.k8s?.pod));
    return pods.has('client') && pods.has('server') ? evs : undefined;
  });
  // A name the aggregator does not hold: an error that says so (it used to hang, no status sent).
  const unknown = runRetrace(['events', 'mine', '-o', '-', ...server_]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('no trace mine');
  const netns = new Set(lab.pods.filter((p) => p.namespace === 'team').map((p) => p.netns.inode));
  // Every event is from a team pod's namespace: none from nodes' own namespaces or the intruder's.
  expect(events.every((e) => e.k8s?.namespace === 'team' && netns.has(e.netns?.inum ?? 0))).toBe(true);
  // The intruder's echo requests reached the client: seen there, in the client's namespace only.
  const intruderIp = lab.pod('intruder').ip;
  expect(
    events.some((e) => e.k8s?.pod === 'client' && parsePacketBase64(e.packet?.data ?? '').ip?.src === intruderIp),
  ).toBe(true);
});
