// Concurrent traces on one node that ask for the same thing share one set of kernel programs:
// each still gets every event and keeps its own limits; a different filter gets its own; a
// trace whose scope changes moves off the shared session without taking the other with it; the
// last one out unloads everything. Real kernel, real namespaces: client -- router -- server.
import { ourProgramsLoaded, routedLab, waitFor, type RoutedLab } from '@retrace/e2e';
import { decodeMessage, type Event, type EventBatch, type PodRef, type TraceSpec } from '@retrace/events';
import { BatchQueue } from '../src/link/batch-queue.js';
import { SessionPool } from '../src/daemon/session-pool.js';
import { TraceRunner, type PodLookup } from '../src/daemon/trace-runner.js';

let lab: RoutedLab;
beforeAll(() => {
  lab = routedLab('share');
});
const started: TraceRunner[] = [];
afterAll(() => {
  for (const r of started) if (!r.done) r.finish('test over'); // also when an expectation failed
  lab?.destroy();
});

const ourPrograms = (): number => ourProgramsLoaded().length;

/** Pods by name -> their namespace inode (what the pod mapper would say). */
const podNetns = new Map<string, number>();
const pods: PodLookup = {
  lookup: () => undefined,
  lookupHostIfindex: () => undefined,
  netnsOf: (refs: readonly PodRef[]) => refs.flatMap((r) => podNetns.get(r.name) ?? []),
};

function spec(name: string, over: Partial<TraceSpec> = {}): TraceSpec {
  return {
    name,
    namespaced: true,
    collectors: ['skb-tracking,skb,ns'],
    probes: ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'],
    filter: 'udp',
    meta_filter: '',
    stack: false,
    pods: [{ namespace: 'shop', name: 'client', uid: '', ips: [], node: '' }],
    ovs_track: false,
    ovs_enrich_flows: false,
    ovs_enrich_rate: 0,
    allow_system_changes: false,
    nft_verdicts: '',
    profile: '',
    ...over,
  };
}

interface Running {
  runner: TraceRunner;
  queue: BatchQueue;
  completed: string[];
}

function run(pool: SessionPool, s: TraceSpec): Running {
  const queue = new BatchQueue(s.name, { maxBytes: 16 << 20, batchEvents: 1 });
  const completed: string[] = [];
  const runner = new TraceRunner(s, {
    node: 'node-a',
    queue,
    pods,
    sessions: pool,
    onComplete: (r) => completed.push(r),
  });
  started.push(runner);
  const res = runner.start();
  expect(res).toMatchObject({ ok: true });
  return { runner, queue, completed };
}

interface Seen {
  port: number | undefined;
  netns: number | undefined;
}

/** What a trace queued since the last call: UDP destination port and namespace of each event. */
function take(r: Running): Seen[] {
  const out: Seen[] = [];
  r.queue.cut();
  for (let b = r.queue.nextUnsent(); b; b = r.queue.nextUnsent())
    for (const raw of decodeMessage<EventBatch>('EventBatch', b.encoded, { raw: new Set(['EventBatch.events']) })
      .events ?? []) {
      const ev = decodeMessage<Event>('Event', raw as unknown as Uint8Array);
      const bytes = Buffer.from(ev.packet?.data ?? '', 'base64');
      // Ethernet + IPv4 (20 bytes, no options here) + UDP: the destination port.
      const udp = bytes.length >= 38 && bytes[23] === 17;
      out.push({ port: udp ? bytes.readUInt16BE(36) : undefined, netns: ev.netns?.inum });
    }
  return out;
}

const ports = (seen: Seen[]): Set<number | undefined> => new Set(seen.map((x) => x.port));

test('identical traces share programs, keep their own limits, and move apart when their scopes do', async () => {
  podNetns.set('client', lab.client.inode);
  podNetns.set('router', lab.router.inode);
  const pool = new SessionPool();
  const before = ourPrograms();
  const a = run(pool, spec('a', { limits: { max_events: 3n, duration_ms: 0, events_per_sec: 0 } }));
  const perSession = ourPrograms() - before;
  expect(perSession).toBeGreaterThan(0);
  const b = run(pool, spec('b'));
  // Same collectors, probes, filter and scope: nothing more in the kernel.
  expect(ourPrograms() - before).toBe(perSession);
  expect(pool.size).toBe(1);
  expect(b.runner.notes.join('\n')).toMatch(/sharing the kernel probes/);
  // Another filter is another session.
  const c = run(pool, spec('c', { filter: 'icmp' }));
  expect(ourPrograms() - before).toBe(2 * perSession);

  for (let i = 0; i < 4; i++) lab.client.sendUdp(lab.serverIp, 7101 + i, `x${i}`);
  await waitFor(() => b.queue.totals.queued >= 4, 'trace b to see the four datagrams leave the client', 5000);
  // a stopped at its own limit; b saw every datagram; c (icmp) saw none of them.
  await waitFor(() => a.completed.length > 0, 'trace a to complete at max events', 5000);
  expect(a.completed).toEqual(['max-events']);
  expect(a.queue.totals.queued).toBe(3);
  expect(ports(take(b))).toEqual(new Set([7101, 7102, 7103, 7104]));
  const icmp = take(c); // the server's port-unreachable answers, none of the datagrams
  expect(icmp.length).toBeGreaterThan(0);
  expect(ports(icmp)).toEqual(new Set([undefined]));
  // a left; b keeps the shared session.
  expect(pool.size).toBe(2);
  expect(ourPrograms() - before).toBe(2 * perSession);

  // A second sharer, then b's pods change: b moves to a session of its new scope, d stays.
  const d = run(pool, spec('d'));
  expect(pool.size).toBe(2);
  b.runner.spec.pods = [
    ...(b.runner.spec.pods ?? []),
    { namespace: 'shop', name: 'router', uid: '', ips: [], node: '' },
  ];
  b.runner.refreshScope();
  expect(pool.size).toBe(3);
  expect(ourPrograms() - before).toBe(3 * perSession);
  const seenB: Seen[] = [];
  const seenD: Seen[] = [];
  lab.client.sendUdp(lab.serverIp, 7202, 'from the client');
  await waitFor(
    () => {
      seenB.push(...take(b));
      seenD.push(...take(d));
      return seenB.some((x) => x.netns === lab.router.inode) && seenD.some((x) => x.port === 7202);
    },
    'b to see the datagram in the router too, d in the client',
    5000,
  );
  await new Promise((r) => setTimeout(r, 200));
  seenD.push(...take(d));
  // d kept the client's scope: nothing from the router's namespace.
  expect(seenD.every((x) => x.netns === lab.client.inode)).toBe(true);
  expect(ports(seenB)).toEqual(new Set([7202]));

  for (const r of [b, c, d]) r.runner.finish('removed');
  expect(pool.size).toBe(0);
  await waitFor(() => ourPrograms() === before, 'the programs to be unloaded', 5000);
});
