// How fast the journey sorter is, next to the simplest sort of the same events: Array.prototype.sort
// by timestamp (which neither groups, stitches nor bounds memory), measured in the same run so
// that the ratio means something on any machine.
//
// The synthetic trace: pings between pods of 4 nodes; each packet is seen 4 times on the sending
// node (the last time in VXLAN) and 4 times on the receiving one (first in VXLAN), every event
// carries its packet (as with the skb collector), node clocks are skewed by up to 0.8 ms, and
// each node's events reach the aggregator in batches, late by up to 50 ms.
import { encodeMessage, type Event } from '@retrace/events';
import { ClusterClock } from './clock.js';
import { JourneySorter } from './journey-sorter.js';
import { SortKeyReader } from './sort-keys.js';
import { SortedEvent } from './sorted-event.js';

export interface SortBenchResult {
  events: number;
  journeys: number;
  stitched: number;
  /** Events through JourneySorter (push + release) per second. */
  eventsPerSec: number;
  /** Events through Array.prototype.sort by timestamp per second, same events. */
  baselineEventsPerSec: number;
}

const NODES = 4;
const BOOT = 1_700_000_000_000_000_000n;
const SKEW = [0n, 800_000n, -300_000n, 450_000n];
const skew = (node: number): bigint => SKEW[node % SKEW.length] as bigint;
const PACKET_EVERY_NS = 100_000n;
const HOP_NS = 60_000n;

const be16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];

function ipv4(src: number, dst: number, proto: number, id: number, ttl: number, payload: number[]): number[] {
  const len = 20 + payload.length;
  return [0x45, 0, ...be16(len), ...be16(id), 0x40, 0, ttl, proto, 0, 0, 10, 0, src, 5, 10, 0, dst, 7, ...payload];
}

function frame(inner: number[]): number[] {
  return [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, ...inner];
}

function pingFrame(seq: number, src: number, dst: number, ttl: number): number[] {
  const payload = Array.from({ length: 48 }, (_, i) => (i < 8 ? (seq >> (i % 4)) & 0xff : i));
  return frame(ipv4(src, dst, 1, seq & 0xffff, ttl, [8, 0, 0, 0, 0, 0x77, ...be16(seq & 0xffff), ...payload]));
}

function vxlanFrame(inner: number[]): number[] {
  const udp = [...be16(40000), ...be16(4789), ...be16(16 + inner.length), 0, 0, 8, 0, 0, 0, 0, 0, 1, 0, ...inner];
  return frame(ipv4(1, 2, 17, 0x1234, 64, udp));
}

const SYMBOLS = ['net:netif_receive_skb', 'net:net_dev_queue', 'skb:consume_skb', 'ovs:upcall'];
/** Agents send batches of what they saw in this much time. */
const BATCH_NS = 20_000_000n;

/** The cluster clock of the synthetic trace: boot offsets off by SKEW. */
export function syntheticClock(): ClusterClock {
  const clock = new ClusterClock();
  for (let i = 0; i < NODES; i++) clock.setBootOffset(`node-${i}`, BOOT + skew(i));
  return clock;
}

/**
 * `n` events of the synthetic trace in the order the aggregator receives them, a batch period at a
 * time (each chunk is made just before it is used, as an aggregator decodes what arrives).
 */
export interface SyntheticEvent {
  node: string;
  event: Event;
}

/** `nodes` (at least 2) sets how many nodes the pings go between (the sort bench uses 4). */
export function* syntheticTrace(n: number, nodes = NODES): Generator<SyntheticEvent[]> {
  if (!Number.isInteger(nodes) || nodes < 2) throw new RangeError(`nodes must be a whole number >= 2, got ${nodes}`);
  const names = Array.from({ length: nodes }, (_, i) => `node-${i}`);
  const kernel = SYMBOLS.map((symbol) => ({ symbol, probe_type: 'raw_tracepoint' }));
  let pending: { arrival: bigint; item: SyntheticEvent }[] = [];
  let made = 0;
  let seq = 0;
  for (let period = 0n; made < n || pending.length > 0; period++) {
    const end = (period + 1n) * BATCH_NS;
    for (; made < n && BigInt(seq) * PACKET_EVERY_NS < end; seq++) {
      const from = seq % nodes;
      const to = (from + 1 + (seq % (nodes - 1))) % nodes;
      const t0 = BigInt(seq) * PACKET_EVERY_NS;
      const wire = vxlanFrame(pingFrame(seq, from, to, 63));
      const delivered = pingFrame(seq, from, to, 62);
      const hops: [number, number[], bigint][] = [
        [from, pingFrame(seq, from, to, 64), 0n],
        [from, pingFrame(seq, from, to, 64), 2_000n],
        [from, pingFrame(seq, from, to, 63), 5_000n],
        [from, wire, 9_000n],
        [to, wire, HOP_NS],
        [to, pingFrame(seq, from, to, 63), HOP_NS + 4_000n],
        [to, delivered, HOP_NS + 8_000n],
        [to, delivered, HOP_NS + 11_000n],
      ];
      for (let h = 0; h < hops.length && made < n; h++, made++) {
        const [node, bytes, dt] = hops[h] as [number, number[], bigint];
        const event: Event = {
          // The same reading on every node: the registered boot offsets (BOOT + SKEW) are what is off.
          common: { timestamp: t0 + dt, smp_id: 0 },
          kernel: kernel[h % kernel.length],
          'skb-tracking': {
            orig_head: 0xffff888000000000n + BigInt(((seq * 2 + (node === from ? 0 : 1)) % 65536) * 1024),
            timestamp: node === from ? t0 : t0 + HOP_NS, // first seen on this node
            skb: 1n,
          },
          packet: { len: bytes.length, capture_len: bytes.length, data: Buffer.from(bytes).toString('base64') },
        };
        // Each node sends what it saw in a batch period at the end of it, some ms apart.
        const arrival = ((t0 + dt) / BATCH_NS + 1n) * BATCH_NS + BigInt(node) * 7_000_000n;
        pending.push({ arrival, item: { node: names[node] as string, event } });
      }
    }
    // Everything made later arrives after `end + BATCH_NS`: what arrives before can go.
    pending.sort((a, b) => (a.arrival < b.arrival ? -1 : a.arrival > b.arrival ? 1 : 0)); // stable
    const cut = made < n ? pending.findIndex((p) => p.arrival >= end + BATCH_NS) : pending.length;
    const ready = cut < 0 ? pending : pending.slice(0, cut);
    pending = cut < 0 ? [] : pending.slice(cut);
    if (ready.length > 0) yield ready.map((p) => p.item);
  }
}

/**
 * Sorts `n` synthetic events both ways, `rounds` times each, and reports the best rate of each
 * (the first round of each warms the JIT up; on a shared machine the best is the least disturbed).
 */
export function benchSort(n: number, rounds = 3): SortBenchResult {
  // Baseline: every event in one array, in arrival order, sorted by timestamp.
  let arrival: Event[] = [];
  for (const chunk of syntheticTrace(n)) for (const item of chunk) arrival.push(item.event);
  const byTimestamp = (a: Event, b: Event): number => {
    const x = a.common?.timestamp ?? 0n;
    const y = b.common?.timestamp ?? 0n;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  let baselineNs = -1n;
  for (let r = 0; r < rounds; r++) {
    const events = arrival.slice();
    const t0 = process.hrtime.bigint();
    events.sort(byTimestamp);
    const ns = process.hrtime.bigint() - t0;
    if (baselineNs < 0n || ns < baselineNs) baselineNs = ns;
  }
  const count = arrival.length;
  arrival = [];
  (globalThis as { gc?: () => void }).gc?.();

  // The sorter, fed a chunk at a time as an aggregator is; only its own time is counted.
  let sorterNs = -1n;
  let journeys = 0;
  let stitched = 0;
  for (let r = 0; r < rounds; r++) {
    let out = 0;
    journeys = 0;
    const sorter = new JourneySorter({
      clock: syntheticClock(),
      onJourney: (j) => {
        journeys++;
        out += j.events.length;
      },
    });
    let ns = 0n;
    const keys = new SortKeyReader();
    for (const chunk of syntheticTrace(n)) {
      // What the aggregator hands the sorter: the bytes and their sort keys (read at ingest).
      const items = chunk.map(({ node, event }) => new SortedEvent(node, encodeMessage('Event', event), keys));
      const t = process.hrtime.bigint();
      for (const item of items) sorter.push(item);
      ns += process.hrtime.bigint() - t;
    }
    const t = process.hrtime.bigint();
    sorter.flush();
    ns += process.hrtime.bigint() - t;
    if (out !== count) throw new Error(`bench: ${count} events in, ${out} out`);
    stitched = sorter.stats().stitched;
    if (sorterNs < 0n || ns < sorterNs) sorterNs = ns;
  }
  const perSec = (ns: bigint): number => (count * 1e9) / Math.max(1, Number(ns));
  return {
    events: count,
    journeys,
    stitched,
    eventsPerSec: perSec(sorterNs),
    baselineEventsPerSec: perSec(baselineNs),
  };
}

// `node operator/dist/aggregator/bench-sort.js [events] [rounds]`
if (process.argv[1]?.endsWith('bench-sort.js')) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const r = benchSort(n, Number(process.argv[3] ?? 3));
  console.log(
    `${r.events} events, ${r.journeys} journeys (${r.stitched} stitched): ` +
      `sorter ${Math.round(r.eventsPerSec).toLocaleString('en')} events/s, ` +
      `Array.prototype.sort ${Math.round(r.baselineEventsPerSec).toLocaleString('en')} events/s ` +
      `(ratio ${(r.eventsPerSec / r.baselineEventsPerSec).toFixed(2)})`,
  );
}
