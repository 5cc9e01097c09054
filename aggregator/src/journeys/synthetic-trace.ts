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
  if (!Number.isInteger(nodes) || nodes < 2) throw new RangeError(`nodes must be a whole number >= 2, got ${nodes}`);
  const names = Array.from({ length: nodes }, (_, i) => `node-${i}`);
  const kept = Array.from({ length: nodes }, (_, i) => only(i));
  const kernel = SYMBOLS.map((symbol) => ({ symbol, probe_type: 'raw_tracepoint' }));
  const head = skbHeads();
  // Events by the time they arrive (all of a node's batch period arrive together), in the order
  // they were made.
  const pending = new Map<number, SyntheticEvent[]>();
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
      const sender = kept[from] === true;
      const receiver = kept[to] === true && hops > 4;
      if (!sender && !receiver) continue;
      ping(pingFrame, 0, seq, from, to, 63);
      const p63 = pingFrame.toString('base64');
      ping(vxlanFrame, 50, seq, from, to, 63);
      const wire = vxlanFrame.toString('base64');
      let p64 = '';
      let p62 = '';
      if (sender) {
        pingFrame[22] = 64;
        p64 = pingFrame.toString('base64');
      }
      if (receiver) {
        pingFrame[22] = 62;
        p62 = pingFrame.toString('base64');
      }
      const frames = [p64, p64, p63, wire, wire, p63, p62, p62];
      // First seen on each node: the same bigint for its events.
      const seen = [BigInt(t0), BigInt(t0 + HOP_NS)];
      for (let h = 0; h < hops; h++) {
        const side = h < 4 ? 0 : 1;
        const node = side === 0 ? from : to;
        if (kept[node] !== true) continue;
        const at = t0 + (HOP_DT[h] as number);
        const len = FRAME_BYTES[h] as number;
        const event: Event = {
          // The same reading on every node: the registered boot offsets (BOOT + SKEW) are what is off.
          common: { timestamp: BigInt(at), smp_id: 0 },
          kernel: kernel[h % kernel.length],
          'skb-tracking': {
            orig_head: head[(seq * 2 + side) % 65536] as bigint,
            timestamp: seen[side] as bigint,
            skb: 1n,
          },
          packet: { len, capture_len: len, data: frames[h] as string },
        };
        // Each node sends what it saw in a batch period at the end of it, some ms apart.
        const arrival = (Math.floor(at / BATCH_NS) + 1) * BATCH_NS + node * NODE_LAG_NS;
        let list = pending.get(arrival);
        if (list === undefined) pending.set(arrival, (list = []));
        list.push({ node: names[node] as string, event });
      }
    }
    // Everything made later arrives after `end + BATCH_NS`: what arrives before can go.
    const due = [...pending.keys()].filter((a) => made >= n || a < end + BATCH_NS).sort((a, b) => a - b);
    const ready: SyntheticEvent[] = [];
    for (const a of due) {
      for (const e of pending.get(a) as SyntheticEvent[]) ready.push(e);
      pending.delete(a);
    }
    if (ready.length > 0) yield ready;
  }
}
