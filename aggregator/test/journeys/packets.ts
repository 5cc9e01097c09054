// Packet bytes and events for the aggregator tests: real header layouts (lengths computed,
// checksums left 0), so that the parser and the fingerprint see what a capture would hold.
import { encodeMessage, type Event, type SkbTracking } from '@retrace/events';
import { SortKeyReader, SortedEvent } from '../../src/journeys/index.js';

export type Bytes = number[];

const be16 = (n: number): Bytes => [(n >> 8) & 0xff, n & 0xff];
const be32 = (n: number): Bytes => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const mac = (s: string): Bytes => s.split(':').map((h) => parseInt(h, 16));
const ip4 = (s: string): Bytes => s.split('.').map(Number);

export function ether(src: string, dst: string, type: number, payload: Bytes): Bytes {
  return [...mac(dst), ...mac(src), ...be16(type), ...payload];
}

export interface Ip4 {
  src: string;
  dst: string;
  proto: number;
  id: number;
  ttl?: number;
  df?: boolean;
}

export function ipv4(o: Ip4, payload: Bytes): Bytes {
  return [
    0x45,
    0,
    ...be16(20 + payload.length),
    ...be16(o.id),
    ...be16(o.df ? 0x4000 : 0),
    o.ttl ?? 64,
    o.proto,
    0x12, // a checksum NAT and routing would rewrite: must not matter
    0x34,
    ...ip4(o.src),
    ...ip4(o.dst),
    ...payload,
  ];
}

export function icmpEcho(o: { type?: number; id: number; seq: number }, payload: Bytes): Bytes {
  return [o.type ?? 8, 0, 0, 0, ...be16(o.id), ...be16(o.seq), ...payload];
}

export function udp(sport: number, dport: number, payload: Bytes): Bytes {
  return [...be16(sport), ...be16(dport), ...be16(8 + payload.length), 0, 0, ...payload];
}

export function tcp(
  o: { sport: number; dport: number; seq: number; ack: number; flags: number },
  payload: Bytes,
): Bytes {
  return [
    ...be16(o.sport),
    ...be16(o.dport),
    ...be32(o.seq),
    ...be32(o.ack),
    0x50,
    o.flags,
    ...be16(64240),
    0,
    0,
    0,
    0,
    ...payload,
  ];
}

export function vxlan(vni: number, inner: Bytes): Bytes {
  return [0x08, 0, 0, 0, ...be32(vni << 8), ...inner];
}

/** A ping payload: a timestamp-like head and the usual pattern, different per `seed`. */
export function pingPayload(seed: number): Bytes {
  return Array.from({ length: 48 }, (_, i) => (i < 8 ? (seed * 31 + i * 7) & 0xff : i));
}

/** 10.0.1.5 (node-a's pod) pinging 10.0.2.7 (node-b's pod): the inner frame. */
export function podPing(seq: number, o: { ttl?: number; src?: string; dst?: string; id?: number } = {}): Bytes {
  return ether(
    '0a:58:0a:00:01:05',
    '0a:58:0a:00:01:01',
    0x0800,
    ipv4(
      {
        src: o.src ?? '10.0.1.5',
        dst: o.dst ?? '10.0.2.7',
        proto: 1,
        id: o.id ?? 0x4000 + seq,
        ttl: o.ttl ?? 64,
        df: true,
      },
      icmpEcho({ id: 0x77, seq }, pingPayload(seq)),
    ),
  );
}

/** The same inner frame as it crosses the wire between the nodes, in VXLAN. */
export function overVxlan(inner: Bytes, sport = 51234): Bytes {
  return ether(
    '52:54:00:00:00:0a',
    '52:54:00:00:00:0b',
    0x0800,
    ipv4(
      { src: '192.168.0.10', dst: '192.168.0.11', proto: 17, id: 0x9999, ttl: 64 },
      udp(sport, 4789, vxlan(1, inner)),
    ),
  );
}

export const b64 = (b: Bytes): string => Buffer.from(b).toString('base64');

export interface EventOpts {
  ts: bigint;
  symbol?: string;
  tracking?: SkbTracking;
  packet?: Bytes;
  drop?: string;
  node?: string;
  pod?: { namespace: string; name: string };
}

/** An event as an agent sends it: kernel probe, tracking, packet, k8s. */
export function event(o: EventOpts): Event {
  const ev: Event = {
    common: { timestamp: o.ts, smp_id: 1 },
    kernel: { symbol: o.symbol ?? 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
  };
  if (o.tracking) ev['skb-tracking'] = o.tracking;
  if (o.drop) ev['skb-drop'] = { drop_reason: o.drop };
  if (o.packet) ev.packet = { len: o.packet.length, capture_len: o.packet.length, data: b64(o.packet) };
  if (o.node) ev.k8s = o.pod ? { node: o.node, namespace: o.pod.namespace, pod: o.pod.name } : { node: o.node };
  return ev;
}

export const encode = (ev: Event): Uint8Array => encodeMessage('Event', ev);

export const tracking = (ts: bigint, head: bigint): SkbTracking => ({
  timestamp: ts,
  orig_head: head,
  skb: head + 0x100n,
});

/** An event as the sorter hands it on: its bytes, its sort keys, its place. */
export function sortedEvent(node: string, ev: Event, clusterTs: bigint, idx = 0, late = false): SortedEvent {
  const raw = encode(ev);
  return new SortedEvent(node, raw, new SortKeyReader(), clusterTs, idx, late);
}
