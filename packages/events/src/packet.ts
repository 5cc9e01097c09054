// Packet bytes (starting at the Ethernet header) -> protocol layers as objects, for the text lines
// and for tests. The walk itself is packet-walk.ts's; this builds the layers it steps on and words
// why it stopped: a short header stops the parse with `truncated`, anything we do not decode
// stops it with a note. Never throws.
import { IPPROTO, ethertypeName, ipProtoName } from './protocols.js';
import { formatIpv4, formatIpv6, formatMac } from './net-addr.js';
import { PacketCursor } from './packet-walk.js';
import { MAX_TUNNEL_FRAMES, PacketLayer, TunnelKind, WalkStop } from './packet-layers.js';
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

/** An 802.1AE SecTAG. */
export interface MacsecLayer {
  /** Association number. */
  an: number;
  /** Packet number. */
  pn: number;
  /** TCI bits: 0x40 ES, 0x20 SC, 0x10 SCB, 0x08 E (encrypted), 0x04 C (changed). */
  tci: number;
  /** Short length (0: the frame is 48 bytes of user data or more). */
  shortLen: number;
  /** Secure channel identifier, 16 hex digits, when the tag carries one. */
  sci?: string;
  /** Encrypted or changed user data: nothing after the tag was decoded. */
  opaque: boolean;
}

/** ARP, or RARP (ethertype 0x8035, operations 3 and 4). */
export interface ArpLayer {
  htype: number;
  ptype: number;
  op: number;
  senderMac?: string;
  senderIp?: string;
  targetMac?: string;
  targetIp?: string;
}

/** AH after an IPv4 header. */
export interface AhHeader {
  spi: number;
  seq: number;
  /** The integrity check value as captured, in hex. */
  icv: string;
  /** The protocol it protects. */
  next: number;
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
  /** Authentication header (proto 51), and the protocol after it. */
  ah?: AhHeader;
}

export type Ipv6ExtHeader =
  | { kind: 'hop-by-hop' | 'destination'; len: number }
  | { kind: 'routing'; len: number; routingType: number; segmentsLeft: number }
  | { kind: 'fragment'; offset: number; more: boolean; id: number }
  | { kind: 'ah'; len: number; spi: number; seq: number; icv?: string };

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
  proto: 'udp' | 'udplite';
  sport: number;
  dport: number;
  /** The UDP length field (header included); UDP-Lite: the checksum coverage. */
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

export interface SctpLayer {
  proto: 'sctp';
  sport: number;
  dport: number;
  /** Verification tag (conntrack keeps one per direction). */
  vtag: number;
  /** Types of the chunks captured, in order. */
  chunks: number[];
}

/** ESP: what is not encrypted. */
export interface EspLayer {
  proto: 'esp';
  spi: number;
  seq: number;
}

export type L4Layer = TcpLayer | UdpLayer | IcmpLayer | SctpLayer | EspLayer;

/** A Geneve option's header (RFC 8926). */
export interface GeneveOption {
  class: number;
  /** Bit 0x80: critical. */
  type: number;
  /** The option's length, its 4-byte header included. */
  len: number;
}

export interface TunnelLayer {
  kind: 'vxlan' | 'geneve' | 'ipip';
  /** VXLAN and Geneve: the network identifier (IP-in-IP has none: 0). */
  vni: number;
  flags: number;
  /** Geneve: the ethertype of the inner packet (0x6558 = Ethernet); IP-in-IP: 0x0800 or 0x86dd. */
  protocol?: number;
  optionsLen?: number;
  /** Geneve: the options, as far as captured. */
  options?: GeneveOption[];
}

export interface ParsedPacket {
  eth?: EthernetLayer;
  vlans: VlanTag[];
  macsec?: MacsecLayer;
  arp?: ArpLayer;
  ip?: IpLayer;
  l4?: L4Layer;
  tunnel?: TunnelLayer;
  /** The encapsulated packet of a VXLAN, Geneve or IP-in-IP tunnel. */
  inner?: ParsedPacket;
  /** Why the parse stopped early (unsupported protocol, bad header...). */
  notes: string[];
  /** A header was cut by the end of the capture. */
  truncated: boolean;
}

/** Parses a packet captured from its Ethernet header. */
export function parsePacket(bytes: Uint8Array): ParsedPacket {
  const c = new PacketCursor().reset(bytes);
  const outer = emptyPacket();
  let p = outer;
  let depth = 0;
  for (;;) {
    const layer = c.next();
    // The walk went into a tunnel's inner packet (even one it then found nothing in).
    for (; depth < c.depth; depth++) p = p.inner = emptyPacket();
    if (layer === PacketLayer.END) break;
    addLayer(p, c, layer);
  }
  // The walk stops in its innermost packet: that one says why.
  if (c.stop === WalkStop.TRUNCATED) p.truncated = true;
  else if (c.stop !== WalkStop.NONE) p.notes.push(stopNote(c));
  return outer;
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

const emptyPacket = (): ParsedPacket => ({ vlans: [], notes: [], truncated: false });

function addLayer(p: ParsedPacket, c: PacketCursor, layer: PacketLayer): void {
  const b = c.bytes;
  switch (layer) {
    case PacketLayer.ETHERNET:
      p.eth = { dst: formatMac(b, c.macDstAt), src: formatMac(b, c.macSrcAt), ethertype: c.ethertype };
      return;
    case PacketLayer.VLAN:
      p.vlans.push({ tpid: c.vlanTpid, pcp: c.vlanPcp, dei: c.vlanDei, vid: c.vlanVid, ethertype: c.ethertype });
      return;
    case PacketLayer.ARP:
      p.arp = { htype: c.arpHtype, ptype: c.arpPtype, op: c.arpOp };
      if (c.arpSenderMacAt >= 0) {
        p.arp.senderMac = formatMac(b, c.arpSenderMacAt);
        p.arp.senderIp = formatIpv4(b, c.arpSenderIpAt);
        p.arp.targetMac = formatMac(b, c.arpTargetMacAt);
        p.arp.targetIp = formatIpv4(b, c.arpTargetIpAt);
      }
      return;
    case PacketLayer.IPV4:
      p.ip = {
        version: 4,
        src: formatIpv4(b, c.ipSrcAt),
        dst: formatIpv4(b, c.ipDstAt),
        proto: c.ipProto,
        ttl: c.ipTtl,
        tos: c.ipTos,
        id: c.ipId,
        df: c.ipDf,
        mf: c.ipMf,
        fragOffset: c.ipFragOffset,
        totalLen: c.ipTotalLen,
        headerLen: c.ipHeaderLen,
        optionsLen: Math.max(0, c.ipHeaderLen - 20),
      };
      return;
    case PacketLayer.IPV6:
      p.ip = {
        version: 6,
        src: formatIpv6(b, c.ipSrcAt),
        dst: formatIpv6(b, c.ipDstAt),
        proto: c.ipProto,
        nextHeader: c.ip6NextHeader,
        ttl: c.ipTtl,
        trafficClass: c.ip6TrafficClass,
        flowLabel: c.ip6FlowLabel,
        payloadLen: c.ip6PayloadLen,
        ext: [],
      };
      return;
    case PacketLayer.MACSEC: {
      const tci = c.macsecTci;
      p.macsec = {
        an: tci & 3,
        pn: c.macsecPn,
        tci: tci & 0xfc,
        shortLen: c.macsecShortLen,
        opaque: (tci & 0x0c) !== 0,
      };
      if (c.macsecSciAt >= 0) p.macsec.sci = hex(b, c.macsecSciAt, c.macsecSciAt + 8);
      return;
    }
    case PacketLayer.IPV6_EXT:
      if (p.ip?.version === 4) {
        p.ip.ah = { spi: c.extAhSpi, seq: c.extAhSeq, icv: hex(b, c.extAhIcvAt, c.extAhIcvEnd), next: c.ipProto };
        return;
      }
      if (p.ip?.version !== 6) return;
      p.ip.ext.push(extHeader(c));
      p.ip.proto = c.ipProto;
      return;
    case PacketLayer.TCP:
      p.l4 = {
        proto: 'tcp',
        sport: c.sport,
        dport: c.dport,
        seq: c.tcpSeq,
        ack: c.tcpAck,
        flags: c.tcpFlags,
        window: c.tcpWindow,
        headerLen: c.tcpHeaderLen,
        optionsLen: Math.max(0, c.tcpHeaderLen - 20),
        payloadLen: Math.max(0, c.l4Len - c.tcpHeaderLen),
      };
      return;
    case PacketLayer.UDP:
      p.l4 = { proto: c.udpLite ? 'udplite' : 'udp', sport: c.sport, dport: c.dport, length: c.udpLength };
      return;
    case PacketLayer.ICMP: {
      const icmp: IcmpLayer = { proto: c.icmpV6 ? 'icmpv6' : 'icmp', type: c.icmpType, code: c.icmpCode };
      if (c.icmpEcho && c.icmpSeq >= 0) {
        icmp.id = c.icmpId;
        icmp.seq = c.icmpSeq;
      } else if (c.icmpTargetAt >= 0) icmp.target = formatIpv6(b, c.icmpTargetAt);
      p.l4 = icmp;
      return;
    }
    case PacketLayer.TUNNEL:
      p.tunnel = tunnel(c);
      return;
    case PacketLayer.OTHER:
      if (c.ipProto === IPPROTO.SCTP)
        p.l4 = { proto: 'sctp', sport: c.sport, dport: c.dport, vtag: c.sctpVtag, chunks: sctpChunks(c) };
      else if (c.ipProto === IPPROTO.ESP) p.l4 = { proto: 'esp', spi: c.espSpi, seq: c.espSeq };
      return; // anything else: said by the stop reason
    default:
      return;
  }
}

const hex = (b: Uint8Array, from: number, to: number): string =>
  Buffer.from(b.subarray(from, Math.max(from, to))).toString('hex');

/** The chunk types of an SCTP packet, as far as captured (each chunk padded to 4 bytes). */
function sctpChunks(c: PacketCursor): number[] {
  const b = c.bytes;
  const types: number[] = [];
  for (let o = c.payloadAt; o + 4 <= c.l4End && types.length < 32;) {
    types.push(b[o] as number);
    const len = ((b[o + 2] as number) << 8) | (b[o + 3] as number);
    if (len < 4) break; // malformed: would loop
    o += (len + 3) & ~3;
  }
  return types;
}

/** Geneve's options between its 8-byte header and the inner packet, as far as captured. */
function geneveOptions(c: PacketCursor): GeneveOption[] {
  const b = c.bytes;
  const out: GeneveOption[] = [];
  const end = Math.min(c.off + 8 + c.geneveOptionsLen, c.l4End);
  for (let o = c.off + 8; o + 4 <= end;) {
    const len = 4 + ((b[o + 3] as number) & 0x1f) * 4;
    out.push({ class: ((b[o] as number) << 8) | (b[o + 1] as number), type: b[o + 2] as number, len });
    o += len;
  }
  return out;
}

function extHeader(c: PacketCursor): Ipv6ExtHeader {
  switch (c.extKind) {
    case IPPROTO.ROUTING:
      return { kind: 'routing', len: c.extLen, routingType: c.extRoutingType, segmentsLeft: c.extSegmentsLeft };
    case IPPROTO.FRAGMENT:
      return { kind: 'fragment', offset: c.extFragOffset, more: c.extFragMore, id: c.extFragId };
    case IPPROTO.AH:
      return {
        kind: 'ah',
        len: c.extLen,
        spi: c.extAhSpi,
        seq: c.extAhSeq,
        icv: hex(c.bytes, c.extAhIcvAt, c.extAhIcvEnd),
      };
    default:
      return { kind: c.extKind === IPPROTO.HOPOPTS ? 'hop-by-hop' : 'destination', len: c.extLen };
  }
}

function tunnel(c: PacketCursor): TunnelLayer {
  switch (c.tunnelKind) {
    case TunnelKind.VXLAN:
      return { kind: 'vxlan', flags: c.tunnelFlags, vni: c.vni };
    case TunnelKind.GENEVE:
      return {
        kind: 'geneve',
        flags: c.tunnelFlags,
        vni: c.vni,
        protocol: c.tunnelProtocol,
        optionsLen: c.geneveOptionsLen,
        ...(c.geneveOptionsLen > 0 ? { options: geneveOptions(c) } : {}),
      };
    case TunnelKind.IPIP:
      // IPv4 or IPv6 right after the outer IP header (IP protocol 4 or 41), as Calico sends it.
      return { kind: 'ipip', vni: 0, flags: 0, protocol: c.tunnelProtocol };
  }
}

/** Why the walk stopped, in words. */
function stopNote(c: PacketCursor): string {
  const arg = c.stopArg;
  switch (c.stop) {
    case WalkStop.LENGTH_FRAME:
      return `802.3 frame, length ${arg}, not supported`;
    case WalkStop.ETHERTYPE:
      return `ethertype ${ethertypeName(arg)} not supported`;
    case WalkStop.ARP_KIND:
      return `ARP for hardware ${arg} protocol 0x${c.stopArg2.toString(16)} not supported`;
    case WalkStop.IP_VERSION:
      return `IP version ${arg} in an IPv${c.stopArg2} packet`;
    case WalkStop.IPV4_HEADER_LEN:
      return `bad IPv4 header length ${arg}`;
    case WalkStop.PROTOCOL:
      return `${ipProtoName(arg)} not supported`;
    case WalkStop.TCP_HEADER_LEN:
      return `bad TCP header length ${arg}`;
    case WalkStop.GENEVE_VERSION:
      return `Geneve version ${arg} not supported`;
    case WalkStop.TUNNEL_DEPTH:
      return `more than ${MAX_TUNNEL_FRAMES} nested tunnels, inner not parsed`;
    default:
      return '';
  }
}
