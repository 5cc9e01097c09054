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
// VXLAN (140 bytes) ---
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

/** The ping of `seq` from node `src` to `dst` at `ttl`, written at `at`. */
function ping(b: Buffer, at: number, seq: number, src: number, dst: number, ttl: number): void {
  ethernet(b, at);
  ipv4(b, at + 14, src, dst, 1, seq & 0xffff, ttl, PING_BYTES - 14);
  const icmp = at + 34;
  b.set([8, 0, 0, 0, 0, 0x77, (seq >> 8) & 0xff, seq & 0xff], icmp);
  for (let i = 0; i < 48; i++) b[icmp + 8 + i] = i < 8 ? (seq >> (i % 4)) & 0xff : i;
}

/** `ping` inside VXLAN between the nodes' addresses. */
function vxlan(b: Buffer, at: number, seq: number, src: number, dst: number, ttl: number): void {
  ethernet(b, at);
  ipv4(b, at + 14, 1, 2, 17, 0x1234, 64, VXLAN_BYTES - 14);
  const udpLen = 16 + PING_BYTES;
  b.set([40000 >> 8, 40000 & 0xff, 4789 >> 8, 4789 & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], at + 34);
  b.set([8, 0, 0, 0, 0, 0, 1, 0], at + 42);
  ping(b, at + 50, seq, src, dst, ttl);
}

const scratch = Buffer.alloc(VXLAN_BYTES);
const base64 = (len: number): string => scratch.toString('base64', 0, len);

interface Pending {
  arrival: number;
  order: number;
  item: SyntheticEvent;
}

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
  let pending: Pending[] = [];
  let made = 0;
  let seq = 0;
  let order = 0;
  for (let period = 0; made < n || pending.length > 0; period++) {
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
      ping(scratch, 0, seq, from, to, 63);
      const p63 = base64(PING_BYTES);
      vxlan(scratch, 0, seq, from, to, 63);
      const wire = base64(VXLAN_BYTES);
      let p64 = '';
      let p62 = '';
      if (sender) {
        ping(scratch, 0, seq, from, to, 64);
        p64 = base64(PING_BYTES);
      }
      if (receiver) {
        ping(scratch, 0, seq, from, to, 62);
        p62 = base64(PING_BYTES);
      }
      const frames = [p64, p64, p63, wire, wire, p63, p62, p62];
      const bytes = [PING_BYTES, PING_BYTES, PING_BYTES, VXLAN_BYTES, VXLAN_BYTES, PING_BYTES, PING_BYTES, PING_BYTES];
      const dts = [0, 2_000, 5_000, 9_000, HOP_NS, HOP_NS + 4_000, HOP_NS + 8_000, HOP_NS + 11_000];
      for (let h = 0; h < hops; h++) {
        const node = h < 4 ? from : to;
        if (kept[node] !== true) continue;
        const at = t0 + (dts[h] as number);
        const len = bytes[h] as number;
        const event: Event = {
          // The same reading on every node: the registered boot offsets (BOOT + SKEW) are what is off.
          common: { timestamp: BigInt(at), smp_id: 0 },
          kernel: kernel[h % kernel.length],
          'skb-tracking': {
            orig_head: 0xffff888000000000n + BigInt(((seq * 2 + (node === from ? 0 : 1)) % 65536) * 1024),
            timestamp: BigInt(node === from ? t0 : t0 + HOP_NS), // first seen on this node
            skb: 1n,
          },
          packet: { len, capture_len: len, data: frames[h] as string },
        };
        // Each node sends what it saw in a batch period at the end of it, some ms apart.
        const arrival = (Math.floor(at / BATCH_NS) + 1) * BATCH_NS + node * NODE_LAG_NS;
        pending.push({ arrival, order: order++, item: { node: names[node] as string, event } });
      }
    }
    // Everything made later arrives after `end + BATCH_NS`: what arrives before can go.
    pending.sort((a, b) => a.arrival - b.arrival || a.order - b.order);
    const cut = made < n ? pending.findIndex((p) => p.arrival >= end + BATCH_NS) : pending.length;
    const ready = cut < 0 ? pending : pending.slice(0, cut);
    pending = cut < 0 ? [] : pending.slice(cut);
    if (ready.length > 0) yield ready.map((p) => p.item);
  }
}
