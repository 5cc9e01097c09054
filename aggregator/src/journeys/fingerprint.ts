// Recognising one packet on two nodes without tagging it: the agents cannot share tracking ids
// (each kernel has its own skb addresses), so the aggregator compares what the packet carries.
//
// Only fields that survive the trip are used, read from the innermost frame (a VXLAN, Geneve or
// IP-in-IP tunnel adds outer headers on one node and removes them on the next):
//   - IP protocol; IPv4 identification, total length and fragment offset; IPv6 flow label and
//     payload length (and the fragment header's id when there is one);
//   - TCP sequence, acknowledgement and flags; UDP length; ICMP type, code and echo sequence;
//   - an FNV-1a hash of the first 32 payload bytes after the transport header (ICMP errors
//     excepted: they quote the offending packet's headers, which NAT rewrites too).
// Not used: addresses and ports (NAT rewrites them), the ICMP echo id (NAT rewrites it like a port
// when ids clash), TTL / hop limit (routing decrements it) and checksums (NAT and offloads).
//
// Collision trade-off: two different packets with the same fingerprint inside the stitching
// window are wrongly joined into one journey. That needs the same IP id (or flow label), length,
// transport fields and payload head: e.g. unconnected UDP sockets send DF datagrams with IP id 0,
// so two identical datagrams within the window collide; payload that differs in its first 32
// bytes (DNS ids, ping timestamps, TLS records) keeps them apart. The other way round, one packet
// is missed (not stitched) when something rewrites a field we use: GSO/GRO resegmenting TCP
// (lengths and sequence numbers change), a helper rewriting payload (FTP NAT), or a capture that
// stops before the 32 payload bytes on one node and not on the other.
//
// The layers come from @retrace/events's PacketCursor, the walk the text lines use too, rather
// than from parsePacketBase64: the sorter fingerprints most events, and the cursor reads numbers
// where the parse makes objects and address strings.
import {
  GENEVE_PORT,
  IPPROTO,
  MAX_TUNNEL_FRAMES,
  PacketCursor,
  PacketLayer,
  TunnelKind,
  VXLAN_PORT,
  type Event,
} from '@retrace/events';

/** Payload bytes after the transport header that go into the hash. */
export const FINGERPRINT_PAYLOAD_BYTES = 32;

export interface PacketIdentity {
  /** Stable across nodes, tunnels and NAT; see the file comment for what goes in. */
  fingerprint: string;
  /**
   * IPv4 TTL / IPv6 hop limit of the innermost packet: not part of the fingerprint, but a higher
   * value means an earlier point on the path (routers only decrement it), which tells which node
   * sent the packet when the node clocks are too far apart to say.
   */
  ttl: number;
}

/** What the walk found in the innermost frame (one shared instance, see readPacketFields). */
export interface PacketFields {
  version: 4 | 6;
  proto: number;
  /** IPv4 identification, or IPv6 flow label. */
  ident: number;
  /** IPv4 total length, or IPv6 payload length. */
  length: number;
  /** IPv4 fragment offset (+ 0x10000 when more fragments follow); IPv6 fragment header's (-1: none). */
  frag: number;
  /** IPv6 fragment header id (0 without one). */
  fragId: number;
  /** 'tcp' | 'udp' | 'icmp' fields read; undefined when the capture ends before them. */
  l4: 'tcp' | 'udp' | 'icmp' | undefined;
  /** TCP seq / UDP length / ICMP type. */
  a: number;
  /** TCP ack / ICMP code. */
  b: number;
  /** TCP flags / ICMP echo sequence (-1: not an echo). */
  c: number;
  /** FNV-1a of the payload head; -1 when not hashed. */
  payloadHash: number;
  ttl: number;
  /** A 53-bit number from all the above but ttl (two 32-bit hashes, cut to fit a double). */
  key: number;
  /** The two 32-bit hashes whole, as int32: the sorter's table key for the fingerprint. */
  keyLo: number;
  keyHi: number;
}

/** A packet's fingerprint, or undefined when it has no IP layer to identify it by. */
export function packetFingerprint(ev: Event): string | undefined {
  const f = readPacketFields(ev.packet?.data);
  return f === undefined ? undefined : fingerprintText(f);
}

/** The fingerprint and the innermost TTL of an event's packet; undefined without an IP layer. */
export function packetIdentity(ev: Event): PacketIdentity | undefined {
  const f = readPacketFields(ev.packet?.data);
  return f === undefined ? undefined : { fingerprint: fingerprintText(f), ttl: f.ttl };
}

/** The fingerprint as text, e.g. `4:1:16385:84:0|i:8:0:1|p:5d1c2a3b`. */
export function fingerprintText(f: PacketFields): string {
  let s =
    f.version === 4
      ? `4:${f.proto}:${f.ident}:${f.length}:${f.frag & 0xffff}${f.frag > 0xffff ? '+' : ''}`
      : `6:${f.proto}:${f.ident}:${f.length}${f.frag >= 0 ? `:f${f.fragId}/${f.frag & 0xffff}${f.frag > 0xffff ? '+' : ''}` : ''}`;
  if (f.l4 === 'tcp') s += `|t:${f.a}:${f.b}:${f.c}`;
  else if (f.l4 === 'udp') s += `|u:${f.a}`;
  else if (f.l4 === 'icmp') s += `|i:${f.a}:${f.b}:${f.c >= 0 ? f.c : ''}`;
  if (f.payloadHash >= 0) s += `|p:${f.payloadHash.toString(16)}`;
  return s;
}

// --- the walk ---

/** retrace captures up to 256 bytes; what matters is well within this. */
const scratch = Buffer.alloc(1024);
const cursor = new PacketCursor();
const fields: PacketFields = {
  version: 4,
  proto: 0,
  ident: 0,
  length: 0,
  frag: -1,
  fragId: 0,
  l4: undefined,
  a: 0,
  b: 0,
  c: 0,
  payloadHash: -1,
  ttl: 0,
  key: 0,
  keyLo: 0,
  keyHi: 0,
};

/**
 * The innermost frame's identifying fields of base64 packet data, or undefined when there is no
 * IP layer. Returns one shared object, overwritten by the next call (no allocation per packet).
 */
export function readPacketFields(data: string | undefined): PacketFields | undefined {
  if (typeof data !== 'string' || data === '') return undefined;
  const n = scratch.write(data, 0, 'base64');
  return walk(scratch, 0, n) ? fields : undefined;
}

/** The same from packet bytes: bytes[start, end) from the Ethernet header (no view needed). */
export function readPacketFieldsFromBytes(bytes: Uint8Array, start = 0, end = bytes.length): PacketFields | undefined {
  const fast = quickWalk(bytes, start, Math.min(end, bytes.length), 0);
  if (fast !== UNSURE) return fast === YES ? fields : undefined;
  return walk(bytes, start, end) ? fields : undefined;
}

/** The same by PacketCursor's walk alone: what quickWalk is checked against (tests). */
export function readPacketFieldsByCursor(bytes: Uint8Array, start = 0, end = bytes.length): PacketFields | undefined {
  return walk(bytes, start, end) ? fields : undefined;
}

// --- the common shapes, read directly ---
//
// Most packets are Ethernet, IPv4 without fragment offset, then TCP, UDP or ICMP, or that inside
// VXLAN: for those the fields are read straight from the bytes, as PacketCursor's walk reads them
// (the same values: test/journeys/fingerprint-quick.test.ts checks them against it, including cut
// and damaged captures). Anything else is left to the walk.
const YES = 1;
const UNSURE = -1;

const u16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);
const u32 = (b: Uint8Array, o: number): number => ((u16(b, o) << 16) >>> 0) + u16(b, o + 2);

/** Fills `fields` from an Ethernet frame at bytes[o, end) (depth: tunnels entered): YES, or UNSURE (the walk's to tell). */
function quickWalk(b: Uint8Array, o: number, end: number, depth: number): number {
  if (end < o + 14 + 20 || u16(b, o + 12) !== 0x0800) return UNSURE;
  const ip = o + 14;
  const v = b[ip] as number;
  const hl = (v & 0x0f) * 4;
  if (v >> 4 !== 4 || hl < 20 || end < ip + hl) return UNSURE;
  const fragWord = u16(b, ip + 6);
  if ((fragWord & 0x1fff) !== 0) return UNSURE;
  const total = u16(b, ip + 2);
  const l4End = Math.min(total >= hl ? ip + total : end, end);
  const t = ip + hl;
  const have = l4End - t;
  const proto = b[ip + 9] as number;
  const f = fields;
  let hashFrom: number;
  let l4: PacketFields['l4'];
  let a = 0;
  let c = 0;
  let bb = 0;
  if (proto === IPPROTO.TCP) {
    if (have < 20) return UNSURE;
    const thl = ((b[t + 12] as number) >> 4) * 4;
    if (thl < 20) return UNSURE;
    l4 = 'tcp';
    a = u32(b, t + 4);
    bb = u32(b, t + 8);
    c = u16(b, t + 12) & 0x1ff;
    hashFrom = t + thl;
  } else if (proto === IPPROTO.UDP) {
    if (have < 8) return UNSURE;
    const sport = u16(b, t);
    const dport = u16(b, t + 2);
    if (sport === GENEVE_PORT || dport === GENEVE_PORT) return UNSURE;
    if (sport === VXLAN_PORT || dport === VXLAN_PORT) {
      // The inner frame after the VXLAN header; its own fields (the walk's innermost IP).
      const at = t + 16;
      if (l4End < at || l4End <= at || depth + 1 >= MAX_TUNNEL_FRAMES) return UNSURE;
      return quickWalk(b, at, l4End, depth + 1);
    }
    l4 = 'udp';
    a = u16(b, t + 4);
    hashFrom = t + 8;
  } else if (proto === IPPROTO.ICMP) {
    if (have < 4) return UNSURE;
    const type = b[t] as number;
    const echo = type === 0 || type === 8 || type === 13 || type === 14;
    l4 = 'icmp';
    a = type;
    bb = b[t + 1] as number;
    c = echo && have >= 8 ? u16(b, t + 6) : -1;
    hashFrom = c >= 0 ? t + 8 : -1;
  } else return UNSURE;
  f.version = 4;
  f.proto = proto;
  f.ident = u16(b, ip + 4);
  f.length = total;
  f.frag = (fragWord & 0x2000) !== 0 ? 0x10000 : 0;
  f.fragId = 0;
  f.ttl = b[ip + 8] as number;
  f.l4 = l4;
  f.a = a;
  f.b = bb;
  f.c = c;
  const to = Math.min(l4End, hashFrom + FINGERPRINT_PAYLOAD_BYTES);
  f.payloadHash = hashFrom >= 0 && to > hashFrom ? fnv1a(b, hashFrom, to, 0x811c9dc5) : -1;
  setKey(f);
  return YES;
}

/** Fills `fields` from the innermost frame; false when that frame has no IP header. */
function walk(bytes: Uint8Array, start: number, end: number): boolean {
  const c = cursor.reset(bytes, start, end);
  const f = fields;
  let ipDepth = -1;
  let hashFrom = -1; // where the hashed payload starts; -1: no hash
  for (;;) {
    switch (c.next()) {
      case PacketLayer.IPV4:
      case PacketLayer.IPV6: {
        const v4 = c.ipVersion === 4;
        ipDepth = c.depth;
        f.version = v4 ? 4 : 6;
        f.proto = c.ipProto;
        f.ident = v4 ? c.ipId : c.ip6FlowLabel;
        f.length = v4 ? c.ipTotalLen : c.ip6PayloadLen;
        f.frag = v4 ? c.ipFragOffset + (c.ipMf ? 0x10000 : 0) : -1; // IPv6: set by a fragment header
        f.fragId = 0;
        f.ttl = c.ipTtl;
        f.l4 = undefined;
        f.a = f.b = f.c = 0;
        hashFrom = -1;
        break;
      }
      case PacketLayer.IPV6_EXT:
        f.proto = c.ipProto;
        if (c.extKind === IPPROTO.FRAGMENT) {
          f.frag = c.extFragOffset + (c.extFragMore ? 0x10000 : 0);
          f.fragId = c.extFragId;
        }
        break;
      case PacketLayer.TCP:
        f.l4 = 'tcp';
        f.a = c.tcpSeq;
        f.b = c.tcpAck;
        f.c = c.tcpFlags;
        hashFrom = c.payloadAt;
        break;
      case PacketLayer.UDP:
        // UDP-Lite is hashed header and all, as any transport not read field by field.
        if (c.udpLite) hashFrom = c.off;
        else {
          f.l4 = 'udp';
          f.a = c.udpLength;
          hashFrom = c.payloadAt;
        }
        break;
      case PacketLayer.ICMP:
        f.l4 = 'icmp';
        f.a = c.icmpType;
        f.b = c.icmpCode;
        f.c = c.icmpEcho ? c.icmpSeq : -1;
        hashFrom = f.c >= 0 ? c.payloadAt : -1; // errors quote headers that NAT rewrites
        break;
      case PacketLayer.OTHER:
        hashFrom = c.off;
        break;
      case PacketLayer.TUNNEL:
        // IP-in-IP stands where a transport would (VXLAN and Geneve come after their UDP): if
        // the walk does not go into the inner packet, the outer one is hashed from there.
        if (c.tunnelKind === TunnelKind.IPIP) hashFrom = c.off;
        break;
      case PacketLayer.END: {
        if (ipDepth !== c.depth) return false; // no IP header in the innermost frame
        const to = Math.min(c.l4End, hashFrom + FINGERPRINT_PAYLOAD_BYTES);
        f.payloadHash = hashFrom >= 0 && to > hashFrom ? fnv1a(bytes, hashFrom, to, 0x811c9dc5) : -1;
        setKey(f);
        return true;
      }
      default: // Ethernet, VLAN tags, ARP: nothing that identifies the packet
        break;
    }
  }
}

/** 32-bit FNV-1a: fast, no allocation, good enough spread for 32 bytes. */
function fnv1a(b: Uint8Array, from: number, to: number, seed: number): number {
  let h = seed;
  for (let i = from; i < to; i++) {
    h ^= b[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes a 32-bit value into a 32-bit hash (murmur3's step). */
function mix(h: number, v: number): number {
  let k = Math.imul(v | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two independent 32-bit hashes of the fields (and as one 53-bit number, exact in a double). */
function setKey(f: PacketFields): void {
  const l4 = f.l4 === 'tcp' ? 1 : f.l4 === 'udp' ? 2 : f.l4 === 'icmp' ? 3 : 0;
  const head = f.version | (f.proto << 8) | (l4 << 16);
  let h1 = 0x9747b28c;
  let h2 = 0x5bd1e995;
  h1 = mix(mix(mix(mix(mix(h1, head), f.ident), f.length), f.frag), f.fragId);
  h1 = mix(mix(mix(mix(h1, f.a), f.b), f.c), f.payloadHash);
  h2 = mix(mix(mix(mix(mix(h2, f.payloadHash), f.c), f.b), f.a), f.fragId);
  h2 = mix(mix(mix(mix(h2, f.frag), f.length), f.ident), head ^ 0x2545f491);
  f.keyLo = fmix(h1) | 0;
  f.keyHi = fmix(h2) | 0;
  f.key = (f.keyLo >>> 0) * 0x200000 + ((f.keyHi >>> 0) >>> 11);
}
