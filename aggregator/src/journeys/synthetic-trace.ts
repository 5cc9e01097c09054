// The benchmarks' synthetic trace: pings between pods of several nodes; each packet is seen 4
// times on the sending node (the last time in VXLAN) and 4 times on the receiving one (first in
// VXLAN), every event carries its packet (as with the skb collector), node clocks are skewed by
// up to 0.8 ms, and each node's events reach the aggregator in batches, late by up to 50 ms.
//
// Made as it is used, a batch period at a time, and cheaply (packets patched into templates, one
// base64 text per distinct frame): an agent of the cluster benchmark streams it at a given rate
// without holding the trace, as a real agent holds only what it has not sent.
import type { Event } from '@retrace/events';
import { ClusterClock } from './clock.js';

export const SYNTHETIC_NODES = 4;
const BOOT = 1_700_000_000_000_000_000n;
const SKEW = [0n, 800_000n, -300_000n, 450_000n];
const skew = (node: number): bigint => SKEW[node % SKEW.length] as bigint;
const PACKET_EVERY_NS = 100_000;
const HOP_NS = 60_000;
/** Agents send batches of what they saw in this much time. */
const BATCH_NS = 20_000_000;
/** Each node's batches arrive this much after the previous node's. */
const NODE_LAG_NS = 7_000_000;
const SYMBOLS = ['net:netif_receive_skb', 'net:net_dev_queue', 'skb:consume_skb', 'ovs:upcall'];

/** The cluster clock of the synthetic trace: boot offsets off by SKEW. */
export function syntheticClock(nodes = SYNTHETIC_NODES): ClusterClock {
  const clock = new ClusterClock();
  for (let i = 0; i < nodes; i++) clock.setBootOffset(`node-${i}`, BOOT + skew(i));
  return clock;
}

/** One event of the synthetic trace and the node that saw it. */
export interface SyntheticEvent {
  node: string;
  event: Event;
}

// --- frames: Ethernet, IPv4, ICMP echo with 48 payload bytes (90 bytes), or the same inside
// VXLAN (140 bytes): templates written once, a packet's own fields patched in ---
const PING_BYTES = 90;
const VXLAN_BYTES = 50 + PING_BYTES;

function ethernet(b: Buffer, at: number): void {
  b.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00], at);
}

function ipv4(
  b: Buffer,
  at: number,
  src: number,
  dst: number,
  proto: number,
  id: number,
  ttl: number,
  len: number,
): void {
  b.set([0x45, 0, len >> 8, len & 0xff, (id >> 8) & 0xff, id & 0xff, 0x40, 0, ttl, proto, 0, 0], at);
  b.set([10, 0, src, 5, 10, 0, dst, 7], at + 12);
}

/** The ping template at `at`: seq 0 from node 0 to node 0. */
function pingTemplate(b: Buffer, at: number): void {
  ethernet(b, at);
  ipv4(b, at + 14, 0, 0, 1, 0, 64, PING_BYTES - 14);
  b.set([8, 0, 0, 0, 0, 0x77, 0, 0], at + 34);
  for (let i = 0; i < 48; i++) b[at + 42 + i] = i;
}

/** The ping of `seq` from node `src` to `dst` at `ttl`, patched into the template at `at`. */
function ping(b: Buffer, at: number, seq: number, src: number, dst: number, ttl: number): void {
  b[at + 18] = (seq >> 8) & 0xff; // IP id
  b[at + 19] = seq & 0xff;
  b[at + 22] = ttl;
  b[at + 28] = src;
  b[at + 32] = dst;
  b[at + 40] = (seq >> 8) & 0xff; // ICMP sequence
  b[at + 41] = seq & 0xff;
  for (let i = 0; i < 8; i++) b[at + 42 + i] = (seq >> (i % 4)) & 0xff;
}

const pingFrame = Buffer.alloc(PING_BYTES);
pingTemplate(pingFrame, 0);
const vxlanFrame = Buffer.alloc(VXLAN_BYTES);
{
  // Outer Ethernet, IPv4 between the nodes' addresses, UDP to 4789, VXLAN, then the ping.
  ethernet(vxlanFrame, 0);
  ipv4(vxlanFrame, 14, 1, 2, 17, 0x1234, 64, VXLAN_BYTES - 14);
  const udpLen = 16 + PING_BYTES;
  vxlanFrame.set([40000 >> 8, 40000 & 0xff, 4789 >> 8, 4789 & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], 34);
  vxlanFrame.set([8, 0, 0, 0, 0, 0, 1, 0], 42);
  pingTemplate(vxlanFrame, 50);
}

/** skb addresses of the trace (65536 of them, reused), made once (on first use). */
let heads: bigint[] | undefined;
const skbHeads = (): bigint[] =>
  (heads ??= Array.from({ length: 65536 }, (_, k) => 0xffff888000000000n + BigInt(k * 1024)));
const FRAME_BYTES = [PING_BYTES, PING_BYTES, PING_BYTES, VXLAN_BYTES, VXLAN_BYTES, PING_BYTES, PING_BYTES, PING_BYTES];
const HOP_DT = [0, 2_000, 5_000, 9_000, HOP_NS, HOP_NS + 4_000, HOP_NS + 8_000, HOP_NS + 11_000];

/**
 * `n` events of the synthetic trace between `nodes` nodes (at least 2), in the order the
 * aggregator receives them, a batch period at a time (each chunk is made just before it is
 * used). With `only`, just the events of the nodes it keeps (an agent's share); `n` still counts
 * the events of every node.
 */
export function* syntheticTrace(
  n: number,
  nodes = SYNTHETIC_NODES,
  only: (node: number) => boolean = () => true,
): Generator<SyntheticEvent[]> {
  const make = eventMaker(nodes);
  for (const due of duePeriods(n, nodes, only)) {
    const ready: SyntheticEvent[] = [];
    for (const list of due)
      for (let i = 0; i < list.length; i += 2) ready.push(make(list[i] as number, list[i + 1] as number));
    if (ready.length > 0) yield ready;
  }
}

/**
 * The same events in the same order, each node's batch period in a chunk of its own: what a node
 * streams, made as it goes, few of its events outliving a young-generation collection (a real
 * agent's events live as long as their encoding, where a whole period's would be promoted).
 */
export function* syntheticArrivals(
  n: number,
  nodes = SYNTHETIC_NODES,
  only: (node: number) => boolean = () => true,
): Generator<SyntheticEvent[]> {
  const make = eventMaker(nodes);
  for (const due of duePeriods(n, nodes, only))
    for (const list of due) {
      const ready = new Array<SyntheticEvent>(list.length / 2);
      for (let i = 0; i < list.length; i += 2) ready[i / 2] = make(list[i] as number, list[i + 1] as number);
      yield ready;
    }
}

/**
 * Per batch period, the events due (arriving before anything made later can), by arrival: each
 * node's batch period a list of its events as packet number and hop, in the order they were made.
 * Until then an event is those two numbers.
 */
function* duePeriods(n: number, nodes: number, only: (node: number) => boolean): Generator<number[][]> {
  if (!Number.isInteger(nodes) || nodes < 2) throw new RangeError(`nodes must be a whole number >= 2, got ${nodes}`);
  const kept = Array.from({ length: nodes }, (_, i) => only(i));
  const pending = new Map<number, number[]>();
  let made = 0;
  let seq = 0;
  for (let period = 0; made < n || pending.size > 0; period++) {
    const end = (period + 1) * BATCH_NS;
    for (; made < n && seq * PACKET_EVERY_NS < end; seq++) {
      const from = seq % nodes;
      const to = (from + 1 + (seq % (nodes - 1))) % nodes;
      const t0 = seq * PACKET_EVERY_NS;
      const hops = Math.min(8, n - made);
      made += hops;
      for (let h = 0; h < hops; h++) {
        const node = h < 4 ? from : to;
        if (kept[node] !== true) continue;
        const at = t0 + (HOP_DT[h] as number);
        // Each node sends what it saw in a batch period at the end of it, some ms apart.
        const arrival = (Math.floor(at / BATCH_NS) + 1) * BATCH_NS + node * NODE_LAG_NS;
        let list = pending.get(arrival);
        if (list === undefined) pending.set(arrival, (list = []));
        list.push(seq, h);
      }
    }
    // Everything made later arrives after `end + BATCH_NS`: what arrives before can go.
    const due = [...pending.keys()].filter((a) => made >= n || a < end + BATCH_NS).sort((a, b) => a - b);
    yield due.map((a) => pending.get(a) as number[]);
    for (const a of due) pending.delete(a);
  }
}

/** Makes hop `h` of packet `seq`, seen by its sender (hops 0-3) or its receiver (4-7). */
function eventMaker(nodes: number): (seq: number, h: number) => SyntheticEvent {
  const names = Array.from({ length: nodes }, (_, i) => `node-${i}`);
  const kernel = SYMBOLS.map((symbol) => ({ symbol, probe_type: 'raw_tracepoint' }));
  const head = skbHeads();
  // The packet whose frames' text and first times are below: its events mostly come together.
  let of = -1;
  const frames = ['', '', '', '', '', '', '', ''];
  const seen = [0n, 0n];
  /** The text of hop h's frame: the ping at TTL 64, 63 or 62, or in VXLAN (made when first needed). */
  const frame = (seq: number, from: number, to: number, h: number): string => {
    const known = frames[h] as string;
    if (known !== '') return known;
    const ttl = h < 2 ? 64 : h < 6 ? 63 : 62;
    if (h === 3 || h === 4) {
      ping(vxlanFrame, 50, seq, from, to, ttl);
      return (frames[3] = frames[4] = vxlanFrame.toString('base64'));
    }
    ping(pingFrame, 0, seq, from, to, ttl);
    const text = pingFrame.toString('base64');
    for (let i = 0; i < 8; i++) if (i !== 3 && i !== 4 && (i < 2 ? 64 : i < 6 ? 63 : 62) === ttl) frames[i] = text;
    return text;
  };
  return (seq, h) => {
    const from = seq % nodes;
    const to = (from + 1 + (seq % (nodes - 1))) % nodes;
    const side = h < 4 ? 0 : 1;
    if (of !== seq) {
      of = seq;
      frames.fill('');
      // First seen on each node: the same bigint for its events.
      seen[0] = BigInt(seq * PACKET_EVERY_NS);
      seen[1] = BigInt(seq * PACKET_EVERY_NS + HOP_NS);
    }
    const at = seq * PACKET_EVERY_NS + (HOP_DT[h] as number);
    const len = FRAME_BYTES[h] as number;
    return {
      node: names[side === 0 ? from : to] as string,
      event: {
        // The same reading on every node: the registered boot offsets (BOOT + SKEW) are what is off.
        common: { timestamp: BigInt(at), smp_id: 0 },
        kernel: kernel[h % kernel.length],
        'skb-tracking': {
          orig_head: head[(seq * 2 + side) % 65536] as bigint,
          timestamp: seen[side] as bigint,
          skb: 1n,
        },
        packet: { len, capture_len: len, data: frame(seq, from, to, h) },
      },
    };
  };
}
