// Faults of the aggregator's store, with real processes: a retrace-aggregator, real agents on
// network-namespace nodes and real traffic. A flooding node spends only its own share of a trace
// (the quiet node keeps everything it stored); a full disk under the store stops
// acknowledgements, says so in the summary and the metrics, and loses nothing once it has room;
// a store damaged on disk (zeroed block, flipped bytes, torn tail, unreadable summary) loses only
// what the damage touched when the aggregator starts again on it.
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
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
import { lostAfterEmit, nodeSummary, tearDownCluster, tempDir, udpFlow } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];
const traffic: ChildProcess[] = [];
const mounts: string[] = [];

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('fs', { nodes: { 'node-a': ['team/a1', 'team/a2'], 'node-b': ['team/b1', 'team/b2'] } });
});

afterAll(async () => {
  for (const t of traffic) t.kill('SIGKILL');
  // The aggregator first: its store is on the mounts.
  await tearDownCluster({ procs, lab, certs });
  for (const m of mounts) execFileSync('umount', [m]);
  tmp.remove();
});

/** `count` UDP datagrams of `bytes` from pod `from` to pod `to`, port 9000, `burst` every 20 ms. */
function send(from: string, to: string, count: number, bytes: number, burst: number): Promise<unknown> {
  const p = udpFlow(lab.pod(from).netns, lab.pod(to).ip, { count, bytes, burst, everyMs: 20 });
  traffic.push(p);
  return new Promise((r) => p.on('exit', r));
}

function traceFile(name: string): string {
  const file = `${tmp.dir}/${name}.yaml`;
  writeFileSync(
    file,
    JSON.stringify({
      traces: [
        {
          name,
          collectors: ['skb', 'skb-tracking'],
          probes: ['tp:net:netif_receive_skb'],
          filter: 'udp port 9000',
          pods: lab.podRefs(),
        },
      ],
    }),
  );
  return file;
}

test('a flooding node loses its own newest events to its share of the trace; the quiet node keeps all it stored', async () => {
  const agg = await startAggregator({
    store: `${tmp.dir}/flood`,
    traces: traceFile('flood'),
    certs,
    // 8 MiB per trace (one segment): with two nodes sending, 4 MiB each.
    extra: ['--store-cap', String(8 << 20), '--lateness-ms', '300'],
  });
  procs.push(agg);
  const agents = ['node-a', 'node-b'].map((node) =>
    startAgent({ node, server: agg.address, certs, nodeNetns: lab.nodeNetns(node) }),
  );
  procs.push(...agents);
  for (const a of agents) await a.waitFor(/trace flood: \d+ probe\(s\) attached/);

  // The quiet node first: what it stores must survive the flood that follows.
  await send('a1', 'a2', 300, 64, 30);
  const quiet = await waitForValue(
    () => {
      const s = nodeSummary(agg.address, 'flood', 'node-a', certs);
      return s && s.events >= 300 ? s : undefined;
    },
    "node-a's events stored",
    30_000,
    500,
  );
  // About 20 MB of events from node-b, five times its share.
  await send('b1', 'b2', 40_000, 200, 400);
  for (const a of agents) await a.stop('SIGTERM'); // each flushes and waits for its acknowledgements

  const a = nodeSummary(agg.address, 'flood', 'node-a', certs);
  const b = nodeSummary(agg.address, 'flood', 'node-b', certs);
  if (!a || !b) throw new Error('no summary of node-a or node-b');
  // node-a: nothing lost to the quota, everything it emitted stored, still as many as before.
  expect([a.causes['quota'] ?? 0, a.text]).toEqual([0, a.text]);
  expect([a.events, a.text]).toEqual([a.emitted - lostAfterEmit(a.causes), a.text]);
  expect(a.events).toBeGreaterThanOrEqual(quiet.events);
  // node-b: refused past its share, counted as such, and the counts add up.
  expect(b.causes['quota'] ?? 0).toBeGreaterThan(0);
  expect([b.events + lostAfterEmit(b.causes), b.text]).toEqual([b.emitted, b.text]);
  // What is stored is what the summary says, node by node.
  const out = runRetrace(['events', 'flood', '-o', '-', '--server', agg.address, ...clientTlsArgs(certs)]);
  expect(out.code).toBe(0);
  const stored = { 'node-a': 0, 'node-b': 0 } as Record<string, number>;
  for (const line of out.stdout.split('\n').filter((l) => l.trim()))
    for (const e of JSON.parse(line) as { k8s?: { node?: string } }[])
      stored[e.k8s?.node ?? '?'] = (stored[e.k8s?.node ?? '?'] ?? 0) + 1;
  expect(stored).toEqual({ 'node-a': a.events, 'node-b': b.events });
  await agg.stop('SIGKILL');
}, 180_000);

test('a full disk under the store: nothing acknowledged, the summary and metrics say so; with room again, every held event is stored', async () => {
  const disk = `${tmp.dir}/disk`;
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk]);
  mounts.push(disk);
  const agg = await startAggregator({
    store: `${disk}/store`,
    traces: traceFile('full'),
    certs,
    extra: ['--lateness-ms', '300', '--metrics-port', '0'],
  });
  procs.push(agg);
  const metricsPort = Number((await agg.waitFor(/health and metrics on :(\d+)/))[1]);
  const blocked = async (): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = /^retrace_aggregator_store_blocked (\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const agent = startAgent({ node: 'node-a', server: agg.address, certs, nodeNetns: lab.nodeNetns('node-a') });
  procs.push(agent);
  await agent.waitFor(/trace full: \d+ probe\(s\) attached/);

  // About 6 MB of events onto a 2 MiB disk.
  const flow = send('a1', 'a2', 12_000, 200, 100);
  const summaryText = (): string =>
    runRetrace(['summary', 'full', '--server', agg.address, ...clientTlsArgs(certs)]).stdout;
  let seen: [number | undefined, string] = [undefined, ''];
  await waitForValue(
    async () => {
      seen = [await blocked(), summaryText()];
      return seen[0] === 1 && /store cannot write: .*the disk is full/.test(seen[1]);
    },
    () =>
      `the store blocked in the metrics and the summary (metric ${seen[0]}, summary:\n${seen[1]}\nlog:\n${agg.log()})`,
    60_000,
    500,
  );
  expect(agg.log()).toMatch(/batches are not acknowledged until it can \(agents hold them\)/);
  // Each failing save is said once, not every round.
  expect(
    agg
      .log()
      .split('\n')
      .filter((l) => /meta\.json\.bg\.tmp: not saved/.test(l)).length,
  ).toBeLessThanOrEqual(1);

  // Room again: the writes the disk refused are made, acknowledgements resume.
  execFileSync('mount', ['-o', 'remount,size=64m', disk]);
  await waitForValue(async () => (await blocked()) === 0, 'the store writing again', 60_000, 500);
  await flow;
  await agent.stop('SIGTERM');
  expect(agent.log()).not.toMatch(/not acknowledged/);
  expect(agg.log()).toMatch(/the store writes again: acknowledging batches again/);

  const s = nodeSummary(agg.address, 'full', 'node-a', certs);
  if (!s) throw new Error('no summary of node-a');
  expect(s.text).not.toMatch(/store cannot write/);
  expect([s.events + lostAfterEmit(s.causes), s.text]).toEqual([s.emitted, s.text]);
  // The agent's buffer held what the full disk could not take: none of it was lost.
  expect([s.causes['backpressure'] ?? 0, s.text]).toEqual([0, s.text]);
  expect(s.emitted).toBeGreaterThanOrEqual(12_000);
  await agg.stop('SIGKILL');
}, 180_000);

test('a damaged store, restarted: a zeroed block, flipped bytes, a torn tail and an unreadable meta.json cost only what they touched, said in the log', async () => {
  const store = `${tmp.dir}/damage`;
  const traces = traceFile('damage');
  const first = await startAggregator({ store, traces, certs, extra: ['--lateness-ms', '300'] });
  procs.push(first);
  const agent = startAgent({ node: 'node-a', server: first.address, certs, nodeNetns: lab.nodeNetns('node-a') });
  procs.push(agent);
  await agent.waitFor(/trace damage: \d+ probe\(s\) attached/);
  await send('a1', 'a2', 3000, 64, 100);
  await agent.stop('SIGTERM'); // everything acknowledged, so stored and synced
  const journeys = (address: string): string[] => {
    const r = runRetrace(['events', 'damage', '-o', '-', '--server', address, ...clientTlsArgs(certs)]);
    expect(r.code).toBe(0);
    return r.stdout.split('\n').filter((l) => l.trim());
  };
  const before = journeys(first.address);
  expect(before.length).toBeGreaterThanOrEqual(3000);
  await first.stop('SIGTERM');

  // The trace's directory: the one holding its segments.
  const dir = readdirSync(store, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => join(store, d.name))
    .find((d) => readdirSync(d).some((f) => /^seg-\d+\.rec$/.test(f)));
  if (!dir) throw new Error(`no trace directory with segments in ${store}`);
  const seg = join(dir, 'seg-00000001.rec');
  const size = statSync(seg).size;
  const fd = openSync(seg, 'r+');
  writeSync(fd, new Uint8Array(4096), 0, 4096, Math.floor(size / 3)); // a zeroed block
  const flip = Buffer.alloc(16);
  readSync(fd, flip, 0, 16, Math.floor((2 * size) / 3));
  writeSync(
    fd,
    flip.map((b) => b ^ 0xff),
    0,
    16,
    Math.floor((2 * size) / 3),
  ); // 16 flipped bytes
  closeSync(fd);
  // A torn tail, as a crash mid-write leaves: bytes past what the checkpoint says was written.
  appendFileSync(seg, Buffer.alloc(300));
  writeFileSync(join(dir, 'meta.json'), '{"trace": "damage", "nod'); // cut short

  const second = await startAggregator({ store, traces, certs, extra: ['--lateness-ms', '300'] });
  procs.push(second);
  const after = journeys(second.address);
  // Only journeys the damage touched are gone; every one after the damage is kept, in order.
  expect(after.length).toBeLessThan(before.length);
  expect(after.length).toBeGreaterThan(before.length - 100);
  expect(after.at(-1)).toBe(before.at(-1));
  const kept = new Set(before);
  expect(after.every((j) => kept.has(j))).toBe(true); // nothing served altered
  // Said in the log: where, what, how much; the damaged summary set aside, not overwritten.
  const log = second.log();
  expect(log).toMatch(
    /seg-00000001\.rec at byte \d+: zeroed block .* bytes skipped, \d+ records lost; the records after them are kept/,
  );
  expect(log).toMatch(/seg-00000001\.rec at byte \d+: .*checksum.* bytes skipped/);
  expect(log).toMatch(/restart: .*seg-00000001\.rec: 300 bytes appended after the checkpoint removed/);
  expect(log).toMatch(/meta\.json at byte 0: summary unreadable .*set aside as meta\.json\.damaged-/);
  expect(readdirSync(dir).some((f) => f.startsWith('meta.json.damaged-'))).toBe(true);
  // Only the tail the checkpoint never vouched for is cut; the damage inside stays as it was.
  expect(statSync(seg).size).toBe(size);
  await second.stop('SIGKILL');
}, 180_000);
