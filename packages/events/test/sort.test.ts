// `sort` groups events per packet like retis: checked against retis's own sorted fixture, then
// the buffering rules on small hand-made streams.
import { EventSorter, type Event, type SkbTracking } from '../src/index.js';
import { readEvents, readFixture } from './helpers/fixtures.js';

function sortAll(events: Event[], maxBuffer?: number): Event[][] {
  const sorter = new EventSorter(maxBuffer === undefined ? {} : { maxBuffer });
  const out: Event[][] = [];
  for (const ev of events) out.push(...sorter.push(ev));
  out.push(...sorter.flush());
  return out;
}

/** What identifies a series: the fixture's sorted file dropped the old flat skb section. */
const shape = (series: Event[][]): unknown =>
  series.map((s) =>
    s.map((e) => ({
      ts: e.common?.timestamp,
      symbol: e.kernel?.symbol ?? (e.startup ? 'startup' : undefined),
      skbTracking: e['skb-tracking'],
      tracking: e.tracking,
    })),
  );

test.each(['test_events.jsonl', 'test_events_bench.jsonl'])(
  'sorting %s gives retis test_events_sorted.json',
  (name) => {
    const expected = readFixture('test_events_sorted.jsonl').map((l) => (Array.isArray(l) ? l : [l]));
    const got = sortAll(readEvents(name));
    expect(shape(got)).toEqual(shape(expected));
    expect(got).toHaveLength(4);
    console.log(`${name}: compared ${got.length} series (${got.flat().length} events) with retis's sorted file`);
  },
);

const T = (ts: bigint, head: bigint, skb = 0x100n): SkbTracking => ({ timestamp: ts, orig_head: head, skb });
const tracked = (symbol: string, ts: bigint, st: SkbTracking): Event => ({
  common: { timestamp: ts },
  kernel: { symbol, probe_type: 'kprobe' },
  'skb-tracking': st,
});
const untracked = (symbol: string, ts: bigint): Event => ({
  common: { timestamp: ts },
  kernel: { symbol, probe_type: 'kprobe' },
});
const names = (series: Event[][]): string[][] => series.map((s) => s.map((e) => e.kernel?.symbol ?? '?'));

test('over maxBuffer, the series or untracked event that started first is released', () => {
  const sorter = new EventSorter({ maxBuffer: 2 });
  const A = T(10n, 0xa0n);
  const B = T(5n, 0xb0n);
  expect(sorter.push(tracked('a1', 10n, A))).toEqual([]);
  expect(sorter.push(tracked('b1', 12n, B))).toEqual([]); // first seen at 5: older than A
  expect(names(sorter.push(untracked('u', 7n)))).toEqual([['b1']]);
  expect(names(sorter.push(tracked('a2', 13n, A)))).toEqual([['u']]);
  expect(sorter.size).toBe(2);
  const rest = sorter.flush();
  expect(names(rest)).toEqual([['a1', 'a2']]);
  expect(rest[0]?.map((e) => e.tracking?.idx)).toEqual([0, 1]);
  expect(sorter.size).toBe(0);
});

test('series starting at the same time are ordered by orig_head; untracked events stay FIFO', () => {
  const out = sortAll([
    untracked('u2', 50n),
    tracked('hi', 20n, T(20n, 0xffn)),
    tracked('lo', 21n, T(20n, 0x01n)),
    untracked('u1', 1n), // FIFO: still after u2
  ]);
  expect(names(out)).toEqual([['lo'], ['hi'], ['u2'], ['u1']]);
});

test('maxBuffer 0 keeps everything until flush', () => {
  const sorter = new EventSorter({ maxBuffer: 0 });
  for (let i = 0; i < 3000; i++) expect(sorter.push(untracked(`u${i}`, BigInt(i)))).toEqual([]);
  expect(sorter.flush()).toHaveLength(3000);
  expect(() => new EventSorter({ maxBuffer: -1 })).toThrow(/maxBuffer must be a whole number/);
});

test('clones join the series; tracking.skb is the first event’s skb-tracking', () => {
  const first = T(30n, 0xc0n, 0x111n);
  const clone = T(30n, 0xc0n, 0x222n);
  const [series] = sortAll([tracked('x', 30n, first), tracked('y', 31n, clone)]);
  expect(series?.map((e) => e.tracking)).toEqual([
    { skb: first, idx: 0 },
    { skb: first, idx: 1 },
  ]);
  expect(series?.[1]?.['skb-tracking']).toEqual(clone);
});

test('a late event of a released series keeps counting its index', () => {
  const S = T(40n, 0xd0n);
  const out = sortAll([tracked('s0', 40n, S), untracked('u', 41n), untracked('v', 42n), tracked('s1', 43n, S)], 1);
  // s1's series started at 40, before v: it is released first, as a series of its own.
  expect(names(out)).toEqual([['s0'], ['u'], ['s1'], ['v']]);
  expect(out[2]?.[0]?.tracking?.idx).toBe(1);
});

test('input events are not modified', () => {
  const ev = tracked('z', 1n, T(1n, 1n));
  sortAll([ev]);
  expect(ev.tracking).toBeUndefined();
});

test('random streams: every event out once, series in (first-seen, orig_head) order, input order inside', () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const heads = Array.from({ length: 40 }, (_, i) => T(BigInt(1000 + rand(50)), BigInt(0x1000 + i)));
  const input: Event[] = [];
  for (let i = 0; i < 2000; i++) {
    const h = heads[rand(heads.length)];
    input.push(rand(10) === 0 || !h ? untracked(`u${i}`, BigInt(i)) : tracked(`e${i}`, BigInt(i), h));
  }
  const expectedOrder = [...new Set(input.flatMap((e) => (e['skb-tracking'] ? [e['skb-tracking']] : [])))].sort(
    (a, b) => Number(a.timestamp - b.timestamp) || Number(a.orig_head - b.orig_head),
  );
  const unbounded = sortAll(input, 0).filter((s) => s[0]?.['skb-tracking']);
  expect(unbounded.map((s) => s[0]?.['skb-tracking'])).toEqual(expectedOrder);
  for (const maxBuffer of [0, 1, 7, 100]) {
    const out = sortAll(input, maxBuffer);
    expect(
      out
        .flat()
        .map((e) => e.kernel?.symbol)
        .sort(),
    ).toEqual(input.map((e) => e.kernel?.symbol).sort());
    const seen = new Map<string, number>();
    for (const s of out)
      for (const e of s) {
        const key = e.tracking ? String(e.tracking.skb?.orig_head) : '';
        if (!key) continue;
        expect(e.tracking?.idx).toBe(seen.get(key) ?? 0); // indexes count up across releases
        seen.set(key, (e.tracking?.idx ?? 0) + 1);
      }
    for (const s of out) {
      const pos = s.map((e) => Number((e.kernel?.symbol ?? '').slice(1)));
      expect(pos).toEqual([...pos].sort((a, b) => a - b));
    }
  }
});

test('an OVS upcall path is one series: ovs-vswitchd events by queue id, the re-executed packet and what follows it', () => {
  const A: SkbTracking = { orig_head: 0xffff1000n, timestamp: 100n, skb: 0xffff9000n };
  const B: SkbTracking = { orig_head: 0xffff2000n, timestamp: 300n, skb: 0xffff9100n };
  const other: SkbTracking = { orig_head: 0xffff3000n, timestamp: 150n, skb: 0xffff9200n };
  const k = (ts: bigint, symbol: string, st: SkbTracking, ovs?: Event['ovs']): Event => ({
    common: { timestamp: ts },
    kernel: { symbol, probe_type: 'raw_tracepoint' },
    'skb-tracking': st,
    ...(ovs ? { ovs } : {}),
  });
  const u = (ts: bigint, symbol: string, ovs: Event['ovs']): Event => ({
    common: { timestamp: ts },
    userspace: { probe_type: 'usdt', symbol, ip: 0n, path: 'ovs-vswitchd', pid: 1, tid: 2 },
    ovs,
  });
  const events = [
    k(100n, 'net:netif_receive_skb', A),
    k(110n, 'openvswitch:ovs_dp_upcall', A, { event_type: 'upcall', queue_id: 7 }),
    k(150n, 'net:netif_receive_skb', other),
    u(200n, 'dpif_recv:recv_upcall', { event_type: 'recv_upcall', queue_id: 7 }),
    u(210n, 'dpif_recv:recv_upcall', { event_type: 'recv_upcall', queue_id: 8 }), // not ours
    u(220n, 'dpif_netlink_operate__:op_flow_execute', { event_type: 'flow_operation', op_type: 'exec', queue_id: 7 }),
    k(300n, 'openvswitch:ovs_do_execute_action', B, { event_type: 'action_execute', action: 'output', queue_id: 7 }),
    k(310n, 'net:net_dev_start_xmit', B),
  ];
  const series = sortAll(events).map((s) => s.map((e) => `${e.common?.timestamp}:${e.tracking?.idx ?? '-'}`));
  expect(series).toEqual([['100:0', '110:1', '200:2', '220:3', '300:4', '310:5'], ['150:0'], ['210:-']]);
  const all = sortAll(events).flat();
  expect(all.find((e) => e.common?.timestamp === 310n)?.tracking?.skb).toEqual(A);
});
