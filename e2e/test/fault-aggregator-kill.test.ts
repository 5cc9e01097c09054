// Faults of the data plane, with real processes: the aggregator killed with SIGKILL again and
// again while an agent streams a steady flow of packets. Nothing acknowledged may be lost and
// nothing stored twice: at the end, every event the agent emitted is either stored or counted as
// lost with its cause, and the summary's count is what the store holds.
import type { ChildProcess } from 'node:child_process';
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
import { parseLine, type Event } from '@retrace/events';
import { freePort, lostAfterEmit, nodeSummary, sleep, tearDownCluster, tempDir, udpFlow } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];
let traffic: ChildProcess | undefined;

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('fk', { nodes: { 'node-a': ['team/a'], 'node-b': ['team/b'] } });
});

afterAll(async () => {
  traffic?.kill('SIGKILL');
  await tearDownCluster({ procs, lab, certs, tmp });
});

test('the aggregator killed with SIGKILL four times under load: emitted = stored + lost by cause, nothing twice', async () => {
  const store = `${tmp.dir}/kill9`;
  const traces = `${tmp.dir}/kill9.yaml`;
  writeFileSync(
    traces,
    JSON.stringify({
      traces: [
        {
          name: 'kill9',
          collectors: ['skb', 'skb-tracking'],
          probes: ['tp:net:netif_receive_skb'],
          filter: 'udp port 9000',
          pods: lab.podRefs(),
        },
      ],
    }),
  );
  const port = await freePort();
  const aggregator = (): Promise<Proc & { address: string }> =>
    startAggregator({ store, traces, certs, port, extra: ['--lateness-ms', '300'] });
  let agg = await aggregator();
  procs.push(agg);
  const agent = startAgent({ node: 'node-b', server: agg.address, certs, nodeNetns: lab.nodeNetns('node-b') });
  procs.push(agent);
  await agent.waitFor(/trace kill9: \d+ probe\(s\) attached/);

  // A steady flow: 1500 datagrams a second for 12 seconds, from pod a to pod b.
  traffic = udpFlow(lab.pod('a').netns, lab.pod('b').ip, { count: 18000, burst: 75, everyMs: 50 });
  const trafficDone = new Promise((r) => traffic?.on('exit', r));

  // Killed at any moment: mid-batch, mid-sort, mid-checkpoint. Restarted on the same address.
  for (let kill = 0; kill < 4; kill++) {
    await sleep(1500 + kill * 700);
    await agg.stop('SIGKILL');
    agg = await aggregator();
    procs.push(agg);
  }
  await trafficDone;
  // The agent flushes and waits for its acknowledgements before it exits (reconnecting first if
  // the last restart is not over yet).
  await agent.stop('SIGTERM');
  expect(agent.log()).not.toMatch(/not acknowledged/);

  // Every journey stored, read back once the store is stable.
  let last = '';
  const out = await waitForValue(
    () => {
      const r = runRetrace(['events', 'kill9', '-o', '-', '--server', agg.address, ...clientTlsArgs(certs)]);
      const stable = r.code === 0 && r.stdout.length > 0 && r.stdout === last;
      last = r.stdout;
      return stable ? r.stdout : undefined;
    },
    'the stored journeys to settle',
    30_000,
    500,
  );
  const stored: Event[] = out
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      const v = parseLine(l, 1) as Event | Event[];
      return Array.isArray(v) ? v : [v];
    });
  // Nothing twice: an event is its node, its probe, its CPU and its monotonic timestamp.
  const keys = stored.map(
    (e) =>
      `${e.k8s?.node ?? ''}|${e.kernel?.symbol ?? ''}|${e.common?.smp_id ?? ''}|${String(e.common?.timestamp ?? '')}`,
  );
  const dupes = keys.length - new Set(keys).size;
  expect(dupes).toBe(0);

  const s = nodeSummary(agg.address, 'kill9', 'node-b', certs);
  if (!s) throw new Error('no summary of node-b');
  // It said goodbye: stopped, not lost.
  expect(s.text).not.toMatch(/node node-b \[lost\]/);
  // The summary counts exactly what is stored (a restart neither forgets nor recounts).
  expect([s.events, s.text]).toEqual([stored.length, s.text]);
  // Every event the agent emitted is stored, or lost with a cause after the agent emitted it.
  expect([s.emitted, s.text]).toEqual([stored.length + lostAfterEmit(s.causes), s.text]);
  // A steady flow while the aggregator came and went: the agent's buffer held it all.
  expect(s.emitted).toBeGreaterThanOrEqual(18000);
  expect(s.causes['backpressure'] ?? 0).toBe(0);
}, 180_000);
