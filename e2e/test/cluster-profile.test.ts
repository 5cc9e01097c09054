// A trace that names a profile: the agent expands it against its own kernel (the built-in
// `drops` profile: device in and out, and kfree_skb with its stack), so a packet refused by a
// pod without a listener comes back with its drop reason and the kernel stack of the drop.
import { writeFileSync } from 'node:fs';
import {
  clientTlsArgs,
  clusterLab,
  makeTestCerts,
  runRetrace,
  startAgent,
  startAggregator,
  waitForValue,
  type ClusterLab,
  type Proc,
  type TestCerts,
} from '@retrace/e2e';
import { parseLine, type Event } from '@retrace/events';
import { tearDownCluster, tempDir } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('cp', { nodes: { 'node-a': ['team/client', 'team/server'] } });
});

afterAll(() => tearDownCluster({ procs, lab, certs, tmp }));

test("a trace's profile is applied by the agent: its probes attach and drops carry their stack", async () => {
  const traces = `${tmp.dir}/traces.yaml`;
  writeFileSync(
    traces,
    JSON.stringify({
      traces: [{ name: 'profiled', profile: 'drops', filter: 'udp port 7778', pods: lab.podRefs() }],
    }),
  );
  const agg = await startAggregator({ store: `${tmp.dir}/store`, traces, certs });
  procs.push(agg);
  const agent = startAgent({ node: 'node-a', server: agg.address, certs, nodeNetns: lab.nodeNetns('node-a') });
  procs.push(agent);
  await agent.waitFor(/trace profiled: \d+ probe\(s\) attached/);
  expect(agent.log()).toMatch(/profile drops: applying collect entry 1/);

  const server_ = ['--server', agg.address, ...clientTlsArgs(certs)];
  const summary = runRetrace(['summary', 'profiled', ...server_]).stdout;
  // The profile's three probes, none given in the trace itself.
  expect(summary).toMatch(/node node-a \[running\] kernel \S+: 3 probe\(s\) attached, 0 failed/);

  const client = lab.pod('client');
  const server = lab.pod('server');
  const drop = await waitForValue(
    () => {
      client.netns.sendUdp(server.ip, 7778, 'nobody-listens');
      const r = runRetrace(['events', 'profiled', '-o', '-', ...server_]);
      const events = r.stdout
        .split('\n')
        .filter((l) => l.trim())
        .flatMap((l, i) => {
          const v = parseLine(l, i + 1);
          return Array.isArray(v) ? v : [v];
        });
      return events.find((e: Event) => e['skb-drop']);
    },
    'a drop event',
    30_000,
    500,
  );
  expect(drop['skb-drop']?.drop_reason).toBe('NO_SOCKET');
  expect(drop.kernel?.symbol).toBe('skb:kfree_skb');
  expect(drop.kernel?.stack_trace?.length).toBeGreaterThan(0);
});
