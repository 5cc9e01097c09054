// What a user of `retrace events` sees: a packet's events from every node it crossed, in order,
// under one journey id, even when node clocks disagree and the nodes' streams arrive in any
// order; late events flagged rather than lost; memory bounded.
import type { Event } from '@retrace/events';
import {
  ClusterClock,
  JourneySorter,
  journeySection,
  type Journey,
  type JourneySorterOptions,
  type SortItem,
} from '../../src/journeys/index.js';
import { encode, event, ipv4, overVxlan, podPing, tracking, type Bytes } from './packets.js';

const US = 1_000n;
const MS = 1_000_000n;
const BOOT = 1_732_000_000_000_000_000n;
const DELAY = 100n * US;

interface Setup {
  clock: ClusterClock;
  sorter: JourneySorter;
  out: Journey[];
  push: (node: string, ev: Event) => SortItem;
}

function setup(errors: Record<string, bigint>, opts: Partial<JourneySorterOptions> = {}): Setup {
  const clock = new ClusterClock();
  for (const [node, err] of Object.entries(errors)) clock.setBootOffset(node, BOOT + err);
  const out: Journey[] = [];
  const sorter = new JourneySorter({ clock, onJourney: (j) => out.push(j), ...opts });
  const push = (node: string, ev: Event): SortItem => {
    const item = { node, raw: encode(ev) };
    sorter.push(item);
    return item;
  };
  return { clock, sorter, out, push };
}

/** Monotonic reading of every node at true time t (their boot offsets are what is wrong). */
const mono = (t: bigint): bigint => t - BOOT;
const T0 = BOOT + 3_600_000n * MS;

interface Hop {
  ts: bigint;
  symbol: string;
  packet: Bytes;
}

/** A node's part of a packet's journey: events of one skb (one series). */
function series(trueStart: bigint, head: bigint, hops: Hop[]): Event[] {
  const st = tracking(mono(trueStart), head);
  return hops.map((h) => event({ ts: mono(h.ts), symbol: h.symbol, tracking: st, packet: h.packet }));
}

/** A ping from a pod on `from` to a pod on `to` through VXLAN: both nodes' series. */
function crossing(t: bigint, seq: number, head: bigint): { sent: Event[]; received: Event[] } {
  const inner64 = podPing(seq, { ttl: 64 });
  const inner63 = podPing(seq, { ttl: 63 });
  const inner62 = podPing(seq, { ttl: 62 });
  return {
    sent: series(t, head, [
      { ts: t, symbol: 'net:netif_receive_skb', packet: inner64 },
      { ts: t + 5n * US, symbol: 'net:net_dev_queue', packet: inner63 },
      { ts: t + 10n * US, symbol: 'net:net_dev_start_xmit', packet: overVxlan(inner63) },
    ]),
    received: series(t + DELAY, head + 0x1000n, [
      { ts: t + DELAY, symbol: 'net:netif_receive_skb', packet: overVxlan(inner63) },
      { ts: t + DELAY + 5n * US, symbol: 'net:netif_receive_skb', packet: inner63 },
      { ts: t + DELAY + 10n * US, symbol: 'skb:kfree_skb', packet: inner62 },
    ]),
  };
}

const symbols = (j: Journey | undefined): string[] =>
  (j?.events ?? []).map((e) => `${e.node} ${e.event.kernel?.symbol}`);

test("two nodes' series of one packet become one journey, in order, with node-b's 3 ms clock error corrected", () => {
  const { sorter, out, push, clock } = setup({ 'node-a': 0n, 'node-b': 3n * MS });
  const request = crossing(T0, 1, 0xffff888000100000n);
  const reply = crossing(T0 + 1n * MS, 2, 0xffff888000200000n); // pod B answers: node-b sends, node-a receives
  // node-b's agent is faster: its batches arrive first.
  for (const ev of request.received) push('node-b', ev);
  for (const ev of reply.sent) push('node-b', ev);
  for (const ev of request.sent) push('node-a', ev);
  for (const ev of reply.received) push('node-a', ev);
  sorter.flush();

  expect(out).toHaveLength(2);
  const [req, rep] = [...out].sort((x, y) => (x.events[0]!.clusterTs < y.events[0]!.clusterTs ? -1 : 1));
  expect(req?.nodes).toEqual(['node-a', 'node-b']);
  expect(symbols(req)).toEqual([
    'node-a net:netif_receive_skb',
    'node-a net:net_dev_queue',
    'node-a net:net_dev_start_xmit',
    'node-b net:netif_receive_skb',
    'node-b net:netif_receive_skb',
    'node-b skb:kfree_skb',
  ]);
  expect(req?.events.map((e) => e.idx)).toEqual([0, 1, 2, 3, 4, 5]);
  expect(req?.id).toMatch(/^node-a\/[0-9a-f]+$/); // the first series: where the packet started
  // The reply left node-b first, although node-b's clock said it was 3 ms later than it was.
  expect(rep?.nodes).toEqual(['node-b', 'node-a']);
  expect(rep?.id.startsWith('node-b/')).toBe(true);
  // node-b's times are on the common clock to within the one-way delay.
  expect(clock.correction('node-b')).toBeLessThan(-2n * MS);
  const truth = T0 + DELAY; // node-b's first event of the request
  const got = req?.events[3]?.clusterTs ?? 0n;
  expect(got - truth < DELAY && truth - got < DELAY).toBe(true);
  for (const j of out)
    for (let i = 1; i < j.events.length; i++)
      expect(j.events[i]!.clusterTs).toBeGreaterThanOrEqual(j.events[i - 1]!.clusterTs);
  expect(sorter.stats()).toMatchObject({ events: 12, series: 4, journeys: 2, stitched: 2, unstitched: 0, late: 0 });
});

test('events are carried through untouched, and journeySection gives their Journey section', () => {
  const { sorter, out, push } = setup({ a: 0n });
  const items = series(T0, 0xffff888000300000n, [
    { ts: T0, symbol: 'x', packet: podPing(9) },
    { ts: T0 + US, symbol: 'y', packet: podPing(9) },
  ]).map((ev) => push('a', ev));
  sorter.flush();
  const j = out[0] as Journey;
  expect(j.events[1]?.raw).toBe(items[1]?.raw);
  // The whole event comes back from those bytes when asked for.
  expect(j.events[1]?.event.kernel?.symbol).toBe('y');
  expect(j.events[1]?.event.common?.timestamp).toBe(mono(T0 + US));
  expect(journeySection(j.events[1]!, j)).toEqual({ id: j.id, idx: 1, cluster_ts: T0 + US, late: false, nodes: 1 });
});

test('an event for a journey already released comes out alone, late, with the same id and the next index', () => {
  const { sorter, out, push } = setup({ a: 0n, b: 0n }, { latenessNs: 1n * MS });
  const [a1, a2, a3] = series(T0, 0xffff888000400000n, [
    { ts: T0, symbol: 'a1', packet: podPing(4) },
    { ts: T0 + US, symbol: 'a2', packet: podPing(4) },
    { ts: T0 + 2n * US, symbol: 'a3', packet: podPing(4) },
  ]);
  push('a', a1!);
  push('a', a2!);
  expect(out).toHaveLength(0); // waits for node b
  // Both nodes move 5 ms on (other traffic): the watermark passes the journey.
  push('a', event({ ts: mono(T0 + 5n * MS), symbol: 'other' }));
  push('b', event({ ts: mono(T0 + 5n * MS), symbol: 'other' }));
  expect(out.map((j) => symbols(j))).toEqual([['a a1', 'a a2']]);
  const id = out[0]?.id;
  push('a', a3!); // its third event was stuck somewhere
  expect(out).toHaveLength(2);
  expect(out[1]?.id).toBe(id);
  expect(out[1]?.events.map((e) => [e.event.kernel?.symbol, e.idx, e.late])).toEqual([['a3', 2, true]]);
  expect(journeySection(out[1]!.events[0]!, out[1]!).late).toBe(true);
  expect(sorter.stats().late).toBe(1);
});

test('past maxBufferedEvents the oldest journeys are released early, and counted', () => {
  const { sorter, out, push } = setup({ a: 0n }, { maxBufferedEvents: 10, latenessNs: 3_600_000n * MS });
  for (let i = 0; i < 30; i++) {
    const st = tracking(mono(T0 + BigInt(i) * MS), 0xffff888000500000n + BigInt(i) * 0x1000n);
    push('a', event({ ts: mono(T0 + BigInt(i) * MS), symbol: `p${i}`, tracking: st }));
    expect(sorter.stats().buffered).toBeLessThanOrEqual(10);
  }
  expect(sorter.stats().forcedReleases).toBe(20);
  expect(out.map((j) => j.events[0]?.event.kernel?.symbol)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
  sorter.flush();
  expect(out).toHaveLength(30);
  expect(sorter.stats().buffered).toBe(0);
});

test('a node that goes quiet stops holding the others back once tick() has seen it silent for latenessNs', () => {
  const { sorter, out, push } = setup({ a: 0n, b: 0n }, { latenessNs: 1000n * MS });
  const firsts = (): (string | undefined)[] => out.map((j) => j.events[0]?.event.kernel?.symbol);
  push('b', event({ ts: mono(T0), symbol: 'b-start' })); // then node b sends nothing for a while
  sorter.tick(0n);
  sorter.tick(500n * MS);
  for (let i = 1; i <= 5; i++) push('a', event({ ts: mono(T0 + BigInt(i) * 1000n * MS), symbol: `a${i}` }));
  expect(firsts()).toEqual([]); // held back by node b
  sorter.tick(900n * MS);
  expect(firsts()).toEqual([]); // silent for less than 1 s as far as ticks tell
  sorter.tick(1500n * MS); // node b silent since before the tick 1.5 s ago; node a sent after the one at 0.5 s
  expect(firsts()).toEqual(['b-start', 'a1', 'a2', 'a3']); // behind node a's progress minus 1 s
  push('b', event({ ts: mono(T0 + 6000n * MS), symbol: 'b-back' })); // back: holds the watermark again
  push('a', event({ ts: mono(T0 + 9000n * MS), symbol: 'a9' }));
  expect(firsts()).toEqual(['b-start', 'a1', 'a2', 'a3', 'a4']);
  push('b', event({ ts: mono(T0 + 9500n * MS), symbol: 'b-later' }));
  expect(firsts()).toEqual(['b-start', 'a1', 'a2', 'a3', 'a4', 'a5', 'b-back']);
});

test('a finished node no longer holds the watermark', () => {
  const { sorter, out, push } = setup({ a: 0n, b: 0n }, { latenessNs: 1n * MS });
  push('b', event({ ts: mono(T0), symbol: 'b1' }));
  push('a', event({ ts: mono(T0 + 10n * MS), symbol: 'a1' }));
  push('a', event({ ts: mono(T0 + 20n * MS), symbol: 'a2' }));
  expect(out).toHaveLength(0);
  sorter.setNodeActive('b', false);
  expect(out.map((j) => j.events[0]?.event.kernel?.symbol)).toEqual(['b1', 'a1']);
});

test('events without skb-tracking are journeys of one event; counters say what stitched and what did not', () => {
  const { sorter, out, push } = setup({ a: 0n, b: 0n });
  push('a', event({ ts: mono(T0), symbol: 'startup' }));
  push('a', event({ ts: mono(T0 + US), symbol: 'lost' }));
  const { sent, received } = crossing(T0 + MS, 7, 0xffff888000600000n);
  for (const ev of sent) push('a', ev);
  for (const ev of received) push('b', ev);
  const local = series(T0 + 2n * MS, 0xffff888000700000n, [{ ts: T0 + 2n * MS, symbol: 'local', packet: podPing(8) }]);
  push('a', local[0]!);
  sorter.flush();
  expect(out.map((j) => j.id).filter((id) => id.startsWith('a/u'))).toEqual(['a/u1', 'a/u2']);
  expect(sorter.stats()).toMatchObject({ events: 9, series: 5, journeys: 4, stitched: 1, unstitched: 3, buffered: 0 });
});

test('series that turn out to be one packet later on (one node saw both sides of a tunnel) are merged', () => {
  // GRE: the fingerprint does not open it, so its outside is another fingerprint.
  const gre = (inner: Bytes): Bytes => [
    ...inner.slice(0, 12),
    0x08,
    0x00,
    ...ipv4({ src: '192.168.0.11', dst: '192.168.0.12', proto: 47, id: 0x5151 }, [
      0,
      0,
      0x08,
      0x00,
      ...inner.slice(14),
    ]),
  ];
  const { sorter, out, push } = setup({ a: 0n, b: 0n });
  const inner = podPing(11);
  push('a', series(T0, 0xffff888000800000n, [{ ts: T0, symbol: 'a-inner', packet: inner }])[0]!);
  for (const ev of series(T0 + DELAY, 0xffff888000900000n, [
    { ts: T0 + DELAY, symbol: 'b-gre', packet: gre(inner) },
    { ts: T0 + DELAY + US, symbol: 'b-inner', packet: inner },
  ]))
    push('b', ev);
  sorter.flush();
  expect(out.map((j) => symbols(j))).toEqual([['a a-inner', 'b b-gre', 'b b-inner']]);
  expect(sorter.stats()).toMatchObject({ series: 2, journeys: 1, stitched: 1 });
});

test('options are checked', () => {
  const clock = new ClusterClock();
  expect(() => new JourneySorter({ clock, onJourney: () => {}, maxBufferedEvents: 0 })).toThrow(
    /maxBufferedEvents must be a whole number >= 1/,
  );
  expect(() => new JourneySorter({ clock, onJourney: () => {}, latenessNs: -1n })).toThrow(/latenessNs must be >= 0/);
});

test('what the sorter remembers for late events stays bounded, and late events of what it still remembers are still late', () => {
  const { sorter, out, push } = setup(
    { a: 0n, b: 0n },
    { latenessNs: 1n * MS, stitchWindowNs: 1n * MS, rememberReleased: 100 },
  );
  const at = (i: number): bigint => T0 + BigInt(i) * MS;
  const first = (i: number): Event =>
    event({
      ts: mono(at(i)),
      symbol: `p${i}`,
      tracking: tracking(mono(at(i)), 0xffff888000000000n + BigInt(i) * 0x100n),
      packet: podPing(i),
    });
  for (let i = 0; i < 5000; i++) {
    push('a', first(i));
    push('b', event({ ts: mono(at(i)), symbol: 'clock' }));
    // a late event of a series released a little earlier (still remembered)
    if (i >= 20 && i % 10 === 0) {
      const st = tracking(mono(at(i - 20)), 0xffff888000000000n + BigInt(i - 20) * 0x100n);
      push('a', event({ ts: mono(at(i - 20) + US), symbol: `late${i - 20}`, tracking: st }));
    }
  }
  sorter.flush();
  // Remembered: two generations of at most rememberReleased / 2 series (and their journeys).
  expect(sorter.held().series).toBeLessThanOrEqual(110);
  expect(sorter.held().journeys).toBeLessThanOrEqual(110);
  const late = out.filter((j) => j.events[0]?.late);
  expect(late).toHaveLength(498);
  for (const j of late)
    expect(j.events.map((e) => [e.idx, e.event.kernel?.symbol])).toEqual([[1, expect.stringMatching(/^late/)]]);
  // Long forgotten: the same tracking id again is a new journey of its own, not a late event.
  push('a', event({ ts: mono(at(6000)), symbol: 'again', tracking: tracking(mono(at(0)), 0xffff888000000000n) }));
  sorter.flush();
  expect(out[out.length - 1]?.events.map((e) => [e.idx, e.late])).toEqual([[0, false]]);
});
