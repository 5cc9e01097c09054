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
// The layers are walked here rather than with parsePacketBase64: the sorter fingerprints most
// events and the full parse (addresses formatted as text, a Buffer per packet) costs several
// times what the sorter does per event. The walk follows the same rules as packet.ts (tests
// compare the two), plus IP-in-IP, which Calico uses between nodes.
import type { Event } from '@retrace/events';

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

const VXLAN_PORT = 4789;
const GENEVE_PORT = 6081;
const MAX_DEPTH = 4; // as packet.ts: deeper tunnels are not opened
const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_TEB = 0x6558;
/** retrace captures up to 256 bytes; what matters is well within this. */
const scratch = Buffer.alloc(1024);
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
  return walk(bytes, start, end) ? fields : undefined;
}

// Reads past the captured length `n` give 0 (callers check lengths before using what they read).
const u8 = (b: Uint8Array, n: number, o: number): number => (o < n ? (b[o] as number) : 0);
const u16 = (b: Uint8Array, n: number, o: number): number => (u8(b, n, o) << 8) | u8(b, n, o + 1);
const u32 = (b: Uint8Array, n: number, o: number): number => ((u16(b, n, o) << 16) >>> 0) + u16(b, n, o + 2);

// Offsets are into `b`: the frame is b[start, n).
function walk(b: Uint8Array, start: number, n: number): boolean {
  let off = start;
  let ethertype = -1; // -1: the frame starts with an Ethernet header
  const f = fields;
  for (let depth = 0; ; depth++) {
    if (ethertype < 0) {
      if (n < off + 14) return false;
      ethertype = u16(b, n, off + 12);
      off += 14;
      while (ethertype === 0x8100 || ethertype === 0x88a8 || ethertype === 0x9100) {
        if (n < off + 4) return false;
        ethertype = u16(b, n, off + 2);
        off += 4;
      }
    }
    const ipStart = off;
    let l4Start: number;
    let ipEnd: number;
    let proto: number;
    let transport = true; // a first (or only) fragment: the transport header is there
    if (ethertype === ETH_IPV4) {
      if (n < off + 20 || u8(b, n, off) >> 4 !== 4) return false;
      const hl = (u8(b, n, off) & 0x0f) * 4;
      const fo = u16(b, n, off + 6);
      const total = u16(b, n, off + 2);
      f.version = 4;
      proto = u8(b, n, off + 9);
      f.ident = u16(b, n, off + 4);
      f.length = total;
      f.frag = (fo & 0x1fff) * 8 + (fo & 0x2000 ? 0x10000 : 0);
      f.fragId = 0;
      f.ttl = u8(b, n, off + 8);
      l4Start = off + hl;
      ipEnd = total >= hl ? ipStart + total : n;
      if (hl < 20 || n < l4Start || (fo & 0x1fff) !== 0) transport = false;
    } else if (ethertype === ETH_IPV6) {
      if (n < off + 40 || u8(b, n, off) >> 4 !== 6) return false;
      const payloadLen = u16(b, n, off + 4);
      f.version = 6;
      f.ident = u32(b, n, off) & 0xfffff;
      f.length = payloadLen;
      f.frag = -1;
      f.fragId = 0;
      f.ttl = u8(b, n, off + 7);
      ipEnd = payloadLen > 0 ? off + 40 + payloadLen : n;
      let nh = u8(b, n, off + 6);
      let p = off + 40;
      for (;;) {
        if (nh === 0 || nh === 60 || nh === 43) {
          if (n < p + 8) {
            transport = false;
            break;
          }
          const len = (u8(b, n, p + 1) + 1) * 8;
          nh = u8(b, n, p);
          p += len;
        } else if (nh === 44) {
          if (n < p + 8) {
            transport = false;
            break;
          }
          const fo = u16(b, n, p + 2);
          f.frag = (fo & 0xfff8) + (fo & 1 ? 0x10000 : 0);
          f.fragId = u32(b, n, p + 4);
          nh = u8(b, n, p);
          p += 8;
          if ((fo & 0xfff8) !== 0) {
            transport = false;
            break;
          }
        } else if (nh === 51) {
          if (n < p + 12) {
            transport = false;
            break;
          }
          const len = (u8(b, n, p + 1) + 2) * 4;
          nh = u8(b, n, p);
          p += len;
        } else break;
      }
      proto = nh;
      l4Start = p;
      if (n < p) transport = false;
    } else {
      return false; // ARP, or anything else without an IP header
    }
    f.proto = proto;
    f.l4 = undefined;
    f.a = f.b = f.c = 0;
    let payloadStart = l4Start;
    let hash = transport;
    const l4End = Math.min(n, ipEnd); // what the capture holds of the transport bytes
    if (transport && proto === 6) {
      if (l4End - l4Start < 20) hash = false;
      else {
        f.l4 = 'tcp';
        f.a = u32(b, n, l4Start + 4);
        f.b = u32(b, n, l4Start + 8);
        f.c = ((u8(b, n, l4Start + 12) & 1) << 8) | u8(b, n, l4Start + 13);
        payloadStart += (u8(b, n, l4Start + 12) >> 4) * 4;
      }
    } else if (transport && proto === 17) {
      if (l4End - l4Start < 8) hash = false;
      else {
        const sport = u16(b, n, l4Start);
        const dport = u16(b, n, l4Start + 2);
        const t = l4Start + 8; // tunnel header
        if (depth + 1 < MAX_DEPTH && (sport === VXLAN_PORT || dport === VXLAN_PORT)) {
          if (l4End > t + 8) {
            off = t + 8;
            ethertype = -1;
            n = l4End;
            continue;
          }
        } else if (depth + 1 < MAX_DEPTH && (sport === GENEVE_PORT || dport === GENEVE_PORT)) {
          const optionsLen = (u8(b, n, t) & 0x3f) * 4;
          if (u8(b, n, t) >> 6 === 0 && l4End > t + 8 + optionsLen) {
            const inner = u16(b, n, t + 2);
            off = t + 8 + optionsLen;
            ethertype = inner === ETH_TEB ? -1 : inner;
            n = l4End;
            continue;
          }
        }
        f.l4 = 'udp';
        f.a = u16(b, n, l4Start + 4);
        payloadStart += 8;
      }
    } else if (transport && (proto === 1 || proto === 58)) {
      if (l4End - l4Start < 4) hash = false;
      else {
        f.l4 = 'icmp';
        f.a = u8(b, n, l4Start);
        f.b = u8(b, n, l4Start + 1);
        const type = f.a;
        const echo =
          proto === 58 ? type === 128 || type === 129 : type === 0 || type === 8 || type === 13 || type === 14;
        f.c = echo && l4End - l4Start >= 8 ? u16(b, n, l4Start + 6) : -1;
        hash = f.c >= 0; // errors quote headers that NAT rewrites
        payloadStart += 8;
      }
    } else if (transport && (proto === 4 || proto === 41) && depth + 1 < MAX_DEPTH && l4End > l4Start) {
      off = l4Start; // IP-in-IP: the inner packet follows the outer IP header
      ethertype = proto === 4 ? ETH_IPV4 : ETH_IPV6;
      n = l4End;
      continue;
    }
    const end = Math.min(l4End, payloadStart + FINGERPRINT_PAYLOAD_BYTES);
    f.payloadHash = hash && end > payloadStart ? fnv1a(b, payloadStart, end, 0x811c9dc5) : -1;
    setKey(f);
    return true;
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
