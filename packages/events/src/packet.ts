// Packet bytes (starting at the Ethernet header) -> protocol layers. Captures are partial (retis
// keeps up to 255 bytes) and may be malformed, so parsing never throws: a short header stops the
// parse with `truncated`, anything we do not decode stops it with a note.
import { ETH_P, IPPROTO, ethertypeName, ipProtoName } from './protocols.js';
import { formatIpv4, formatIpv6, formatMac } from './net-addr.js';
import type { Event } from './gen/event.js';

export interface EthernetLayer {
  src: string;
  dst: string;
  /** As on the wire: 0x8100 for a tagged frame; below 0x0600 it is an 802.3 length. */
  ethertype: number;
}

export interface VlanTag {
  tpid: number;
  pcp: number;
  dei: boolean;
  vid: number;
  /** The ethertype that follows this tag. */
  ethertype: number;
}

export interface ArpLayer {
  htype: number;
  ptype: number;
  op: number;
  senderMac?: string;
  senderIp?: string;
  targetMac?: string;
  targetIp?: string;
}

export interface Ipv4Layer {
  version: 4;
  src: string;
  dst: string;
  proto: number;
  ttl: number;
  tos: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** Fragment offset in bytes. */
  fragOffset: number;
  totalLen: number;
  headerLen: number;
  optionsLen: number;
}

export type Ipv6ExtHeader =
  | { kind: 'hop-by-hop' | 'destination'; len: number }
  | { kind: 'routing'; len: number; routingType: number; segmentsLeft: number }
  | { kind: 'fragment'; offset: number; more: boolean; id: number }
  | { kind: 'ah'; len: number; spi: number; seq: number };

export interface Ipv6Layer {
  version: 6;
  src: string;
  dst: string;
  /** The upper-layer protocol, after the extension headers. */
  proto: number;
  /** The Next Header field of the fixed header. */
  nextHeader: number;
  /** Hop limit (named ttl like IPv4's for callers that do not care about the version). */
  ttl: number;
  trafficClass: number;
  flowLabel: number;
  payloadLen: number;
  ext: Ipv6ExtHeader[];
}

export type IpLayer = Ipv4Layer | Ipv6Layer;

export interface TcpLayer {
  proto: 'tcp';
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** The 9 flag bits (NS/AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN). */
  flags: number;
  window: number;
  headerLen: number;
  optionsLen: number;
  payloadLen: number;
}

export interface UdpLayer {
  proto: 'udp';
  sport: number;
  dport: number;
  /** The UDP length field (header included). */
  length: number;
}

export interface IcmpLayer {
  proto: 'icmp' | 'icmpv6';
  type: number;
  code: number;
  id?: number;
  seq?: number;
  /** Neighbor solicitation/advertisement target. */
  target?: string;
}

export type L4Layer = TcpLayer | UdpLayer | IcmpLayer;

export interface TunnelLayer {
  kind: 'vxlan' | 'geneve';
  vni: number;
  flags: number;
  /** Geneve: the ethertype of the inner packet (0x6558 = Ethernet). */
  protocol?: number;
  optionsLen?: number;
}

export interface ParsedPacket {
  eth?: EthernetLayer;
  vlans: VlanTag[];
  arp?: ArpLayer;
  ip?: IpLayer;
  l4?: L4Layer;
  tunnel?: TunnelLayer;
  /** The encapsulated packet of a VXLAN or Geneve tunnel. */
  inner?: ParsedPacket;
  /** Why the parse stopped early (unsupported protocol, bad header...). */
  notes: string[];
  /** A header was cut by the end of the capture. */
  truncated: boolean;
}

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;
const MAX_DEPTH = 4; // nested tunnels; deeper ones are only noted

const u16 = (b: Uint8Array, o: number): number => ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
const u32 = (b: Uint8Array, o: number): number => ((u16(b, o) << 16) >>> 0) + u16(b, o + 2);

/** The capture ends inside a header: stop here. */
function cut(p: ParsedPacket): void {
  p.truncated = true;
}

/** Something we do not decode: stop here, saying what. */
function note(p: ParsedPacket, text: string): void {
  p.notes.push(text);
}

/** Parses a packet captured from its Ethernet header. */
export function parsePacket(bytes: Uint8Array): ParsedPacket {
  return parseFrom(bytes, null, 0);
}

/** Parses packet bytes given as base64 (the `packet.data` field of events). */
export function parsePacketBase64(data: string): ParsedPacket {
  return parsePacket(Buffer.from(data, 'base64'));
}

/** The packet of an event, or undefined when it has none (old files, probes without skb). */
export function eventPacket(ev: Event): ParsedPacket | undefined {
  const data = ev.packet?.data;
  return typeof data === 'string' && data !== '' ? parsePacketBase64(data) : undefined;
}

/** `ethertype` null: the bytes start with an Ethernet header; else they start with that protocol. */
function parseFrom(b: Uint8Array, ethertype: number | null, depth: number): ParsedPacket {
  const p: ParsedPacket = { vlans: [], notes: [], truncated: false };
  let off = 0;
  let type: number;
  if (ethertype === null) {
    if (b.length < 14) {
      cut(p);
      return p;
    }
    type = u16(b, 12);
    p.eth = { dst: formatMac(b, 0), src: formatMac(b, 6), ethertype: type };
    off = 14;
    if (type < 0x0600) {
      note(p, `802.3 frame, length ${type}, not supported`);
      return p;
    }
    while (type === ETH_P.VLAN || type === ETH_P.QINQ || type === ETH_P.QINQ_OLD) {
      if (b.length < off + 4) {
        cut(p);
        return p;
      }
      const tci = u16(b, off);
      const next = u16(b, off + 2);
      p.vlans.push({ tpid: type, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0xfff, ethertype: next });
      type = next;
      off += 4;
    }
  } else {
    type = ethertype;
  }
  const rest = b.subarray(off);
  switch (type) {
    case ETH_P.IPV4:
      parseIpv4(p, rest, depth);
      break;
    case ETH_P.IPV6:
      parseIpv6(p, rest, depth);
      break;
    case ETH_P.ARP:
      parseArp(p, rest);
      break;
    default:
      note(p, `ethertype ${ethertypeName(type)} not supported`);
  }
  return p;
}

function parseArp(p: ParsedPacket, b: Uint8Array): void {
  if (b.length < 8) return cut(p);
  const arp: ArpLayer = { htype: u16(b, 0), ptype: u16(b, 2), op: u16(b, 6) };
  p.arp = arp;
  const hlen = b[4] ?? 0;
  const plen = b[5] ?? 0;
  if ((arp.htype !== 1 && arp.htype !== 6) || arp.ptype !== ETH_P.IPV4 || hlen !== 6 || plen !== 4)
    return note(p, `ARP for hardware ${arp.htype} protocol 0x${arp.ptype.toString(16)} not supported`);
  if (b.length < 28) return cut(p);
  arp.senderMac = formatMac(b, 8); // htype 1 Ethernet, 6 IEEE 802: both 6-byte MACs
  arp.senderIp = formatIpv4(b, 14);
  arp.targetMac = formatMac(b, 18);
  arp.targetIp = formatIpv4(b, 24);
}

function parseIpv4(p: ParsedPacket, b: Uint8Array, depth: number): void {
  if (b.length < 20) return cut(p);
  const version = (b[0] ?? 0) >> 4;
  const headerLen = ((b[0] ?? 0) & 0x0f) * 4;
  if (version !== 4) return note(p, `IP version ${version} in an IPv4 packet`);
  const frag = u16(b, 6);
  const ip: Ipv4Layer = {
    version: 4,
    src: formatIpv4(b, 12),
    dst: formatIpv4(b, 16),
    proto: b[9] ?? 0,
    ttl: b[8] ?? 0,
    tos: b[1] ?? 0,
    id: u16(b, 4),
    df: (frag & 0x4000) !== 0,
    mf: (frag & 0x2000) !== 0,
    fragOffset: (frag & 0x1fff) * 8,
    totalLen: u16(b, 2),
    headerLen,
    optionsLen: Math.max(0, headerLen - 20),
  };
  p.ip = ip;
  if (headerLen < 20) return note(p, `bad IPv4 header length ${headerLen}`);
  if (b.length < headerLen) return cut(p);
  if (ip.fragOffset !== 0) return; // a later fragment: no transport header in it
  // A total length of 0 (TSO/BIG TCP) or beyond the capture: use what was captured.
  const end = ip.totalLen >= headerLen ? ip.totalLen : b.length;
  parseL4(p, ip.proto, b.subarray(headerLen, Math.min(end, b.length)), end - headerLen, depth);
}

function parseIpv6(p: ParsedPacket, b: Uint8Array, depth: number): void {
  if (b.length < 40) return cut(p);
  const version = (b[0] ?? 0) >> 4;
  if (version !== 6) return note(p, `IP version ${version} in an IPv6 packet`);
  const w0 = u32(b, 0);
  const ip: Ipv6Layer = {
    version: 6,
    src: formatIpv6(b, 8),
    dst: formatIpv6(b, 24),
    proto: b[6] ?? 0,
    nextHeader: b[6] ?? 0,
    ttl: b[7] ?? 0,
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    payloadLen: u16(b, 4),
    ext: [],
  };
  p.ip = ip;
  // A payload length of 0 is a jumbogram / BIG TCP packet: use what was captured.
  const end = ip.payloadLen > 0 ? 40 + ip.payloadLen : b.length;
  let off = 40;
  let nh = ip.nextHeader;
  for (;;) {
    if (nh === IPPROTO.HOPOPTS || nh === IPPROTO.DSTOPTS || nh === IPPROTO.ROUTING) {
      if (b.length < off + 8) return cut(p);
      const len = ((b[off + 1] ?? 0) + 1) * 8;
      if (nh === IPPROTO.ROUTING)
        ip.ext.push({ kind: 'routing', len, routingType: b[off + 2] ?? 0, segmentsLeft: b[off + 3] ?? 0 });
      else ip.ext.push({ kind: nh === IPPROTO.HOPOPTS ? 'hop-by-hop' : 'destination', len });
      nh = b[off] ?? 0;
      off += len;
    } else if (nh === IPPROTO.FRAGMENT) {
      if (b.length < off + 8) return cut(p);
      const fo = u16(b, off + 2);
      ip.ext.push({ kind: 'fragment', offset: fo & 0xfff8, more: (fo & 1) !== 0, id: u32(b, off + 4) });
      nh = b[off] ?? 0;
      off += 8;
      if ((fo & 0xfff8) !== 0) {
        ip.proto = nh;
        return; // a later fragment: no transport header in it
      }
    } else if (nh === IPPROTO.AH) {
      if (b.length < off + 12) return cut(p);
      const len = ((b[off + 1] ?? 0) + 2) * 4;
      ip.ext.push({ kind: 'ah', len, spi: u32(b, off + 4), seq: u32(b, off + 8) });
      nh = b[off] ?? 0;
      off += len;
    } else {
      break;
    }
    ip.proto = nh;
  }
  ip.proto = nh;
  if (off > b.length) return cut(p);
  parseL4(p, nh, b.subarray(off, Math.min(end, b.length)), end - off, depth);
}

/** `b`: the captured transport bytes; `len`: the transport length the IP header announces. */
function parseL4(p: ParsedPacket, proto: number, b: Uint8Array, len: number, depth: number): void {
  switch (proto) {
    case IPPROTO.TCP: {
      if (b.length < 20) return cut(p);
      const headerLen = ((b[12] ?? 0) >> 4) * 4;
      p.l4 = {
        proto: 'tcp',
        sport: u16(b, 0),
        dport: u16(b, 2),
        seq: u32(b, 4),
        ack: u32(b, 8),
        flags: (((b[12] ?? 0) & 0x01) << 8) | (b[13] ?? 0),
        window: u16(b, 14),
        headerLen,
        optionsLen: Math.max(0, headerLen - 20),
        payloadLen: Math.max(0, len - headerLen),
      };
      if (headerLen < 20) note(p, `bad TCP header length ${headerLen}`);
      return;
    }
    case IPPROTO.UDP: {
      if (b.length < 8) return cut(p);
      const udp: UdpLayer = { proto: 'udp', sport: u16(b, 0), dport: u16(b, 2), length: u16(b, 4) };
      p.l4 = udp;
      const isPort = (port: number): boolean => udp.sport === port || udp.dport === port;
      if (isPort(VXLAN_PORT)) parseVxlan(p, b.subarray(8), depth);
      else if (isPort(GENEVE_PORT)) parseGeneve(p, b.subarray(8), depth);
      return;
    }
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      parseIcmp(p, proto === IPPROTO.ICMPV6, b);
      return;
    case IPPROTO.NONE:
      return;
    default:
      note(p, `${ipProtoName(proto)} not supported`);
  }
}

function parseIcmp(p: ParsedPacket, v6: boolean, b: Uint8Array): void {
  if (b.length < 4) return cut(p);
  const icmp: IcmpLayer = { proto: v6 ? 'icmpv6' : 'icmp', type: b[0] ?? 0, code: b[1] ?? 0 };
  p.l4 = icmp;
  const echo = v6 ? icmp.type === 128 || icmp.type === 129 : [0, 8, 13, 14].includes(icmp.type);
  if (echo) {
    if (b.length < 8) return cut(p);
    icmp.id = u16(b, 4);
    icmp.seq = u16(b, 6);
  } else if (v6 && (icmp.type === 135 || icmp.type === 136)) {
    if (b.length < 24) return cut(p);
    icmp.target = formatIpv6(b, 8);
  }
}

function parseVxlan(p: ParsedPacket, b: Uint8Array, depth: number): void {
  if (b.length < 8) return cut(p);
  p.tunnel = { kind: 'vxlan', flags: b[0] ?? 0, vni: (u32(b, 4) >>> 8) & 0xffffff };
  parseInner(p, b.subarray(8), null, depth);
}

function parseGeneve(p: ParsedPacket, b: Uint8Array, depth: number): void {
  if (b.length < 8) return cut(p);
  const version = (b[0] ?? 0) >> 6;
  const optionsLen = ((b[0] ?? 0) & 0x3f) * 4;
  const protocol = u16(b, 2);
  p.tunnel = { kind: 'geneve', flags: b[1] ?? 0, vni: (u32(b, 4) >>> 8) & 0xffffff, protocol, optionsLen };
  if (version !== 0) return note(p, `Geneve version ${version} not supported`);
  if (b.length < 8 + optionsLen) return cut(p);
  parseInner(p, b.subarray(8 + optionsLen), protocol === ETH_P.TEB ? null : protocol, depth);
}

function parseInner(p: ParsedPacket, b: Uint8Array, ethertype: number | null, depth: number): void {
  if (b.length === 0) return; // header-only capture: nothing of the inner packet
  if (depth + 1 >= MAX_DEPTH) return note(p, `more than ${MAX_DEPTH} nested tunnels, inner not parsed`);
  p.inner = parseFrom(b, ethertype, depth + 1);
}
