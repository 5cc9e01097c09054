// The one walk over packet layers (Ethernet, VLAN tags, MACsec, ARP/RARP, IPv4, IPv6 and its
// extension headers, AH, TCP, UDP, UDP-Lite, ICMP/v6, SCTP and ESP headers, and the VXLAN, Geneve
// and IP-in-IP tunnels): the parser
// behind the text lines (packet.ts), the aggregator's cross-node fingerprint and the agent's nft
// matcher all read packets through it, so a new tunnel or header is taught here once.
//
// A PacketCursor steps one header per next() call; the header's fields (packet-header.ts) are
// read from its bytes when asked: no object or string per packet, because the aggregator
// fingerprints most events.
// Captures are partial (retis keeps up to 255 bytes) and may be malformed, so the walk never
// throws and never reads outside [start, end): a header cut by the end of the capture ends it as
// truncated, anything it does not decode ends it with a reason (`stop`, `stopArg`).
import { ETH_P, IPPROTO } from './protocols.js';
import { PacketHeaderFields, u16 } from './packet-header.js';
import {
  GENEVE_PORT,
  L_ARP,
  L_END,
  L_ETHERNET,
  L_ICMP,
  L_IPV4,
  L_IPV6,
  L_IPV6_EXT,
  L_MACSEC,
  L_OTHER,
  L_TCP,
  L_TUNNEL,
  L_UDP,
  L_VLAN,
  MAX_TUNNEL_FRAMES,
  T_GENEVE,
  T_IPIP,
  T_VXLAN,
  VXLAN_PORT,
  W_ARP_KIND,
  W_ETHERTYPE,
  W_GENEVE_VERSION,
  W_IPV4_HEADER_LEN,
  W_IP_VERSION,
  W_LENGTH_FRAME,
  W_NONE,
  W_PROTOCOL,
  W_TCP_HEADER_LEN,
  W_TRUNCATED,
  W_TUNNEL_DEPTH,
  type PacketLayer,
  type WalkStop,
} from './packet-layers.js';

// Module constants, not IPPROTO.X / ETH_P.X in the steps: smaller bytecode (see packet-layers.ts).
const P_HOPOPTS = IPPROTO.HOPOPTS;
const P_ICMP = IPPROTO.ICMP;
const P_IPIP = IPPROTO.IPIP;
const P_TCP = IPPROTO.TCP;
const P_UDP = IPPROTO.UDP;
const P_IPV6 = IPPROTO.IPV6;
const P_ROUTING = IPPROTO.ROUTING;
const P_FRAGMENT = IPPROTO.FRAGMENT;
const P_AH = IPPROTO.AH;
const P_ICMPV6 = IPPROTO.ICMPV6;
const P_NONE = IPPROTO.NONE;
const P_DSTOPTS = IPPROTO.DSTOPTS;
const P_UDPLITE = IPPROTO.UDPLITE;
const P_SCTP = IPPROTO.SCTP;
const P_ESP = IPPROTO.ESP;
const E_IPV4 = ETH_P.IPV4;
const E_IPV6 = ETH_P.IPV6;
const E_ARP = ETH_P.ARP;
const E_RARP = ETH_P.RARP;
const E_MACSEC = ETH_P.MACSEC;
const E_TEB = ETH_P.TEB;

// The walk's states: what the next call parses at `pos`.
const S_ETHERNET = 0;
const S_TAG = 1; // a VLAN tag (after the Ethernet header or another tag)
const S_NETWORK = 2; // the protocol `ethertype` at `pos`, no link layer
const S_IPV6_NEXT = 3; // an IPv6 extension header or the transport
const S_TRANSPORT = 4;
const S_VXLAN = 5;
const S_GENEVE = 6;
const S_INNER = 7;
const S_END = 8;

const isVlanTag = (type: number): boolean => type === ETH_P.VLAN || type === ETH_P.QINQ || type === ETH_P.QINQ_OLD;

/**
 * Walks one packet, header by header: `reset(...)`, then `next()` until it returns END. The
 * fields of a header (PacketHeaderFields) are read from the bytes of the header just stepped on
 * (`off`): ask them before the next call. Offsets (`off`, the `...At` getters) index `bytes`.
 * Reusable: one cursor can walk any number of packets, one at a time.
 */
export class PacketCursor extends PacketHeaderFields {
  private state = S_END;
  /** Where the next header starts. */
  private pos = 0;
  private innerEnd = 0;

  /** A walk over bytes[start, end), which starts with an Ethernet header. */
  reset(bytes: Uint8Array, start = 0, end = bytes.length): this {
    return this.begin(bytes, start, end, S_ETHERNET);
  }

  /** A walk over bytes[start, end), which starts with an IP header of either version. */
  resetIp(bytes: Uint8Array, start = 0, end = bytes.length): this {
    this.ethertype = start < end && (bytes[start] as number) >> 4 === 6 ? E_IPV6 : E_IPV4;
    return this.begin(bytes, start, end, S_NETWORK);
  }

  /** A walk over bytes[start, end): all there is of a transport header of IP protocol `proto`. */
  resetTransport(bytes: Uint8Array, proto: number, start = 0, end = bytes.length): this {
    this.begin(bytes, start, end, S_TRANSPORT);
    this.ipProto = proto;
    this.l4End = this.ipEnd = this.end;
    return this;
  }

  /** Steps on the next header and returns its kind; END when the walk is over. */
  next(): PacketLayer {
    switch (this.state) {
      case S_ETHERNET:
        return this.ethernet();
      case S_TAG:
        return this.tag();
      case S_NETWORK:
        return this.network();
      case S_IPV6_NEXT:
        return this.ipv6Next();
      case S_TRANSPORT:
        return this.transport();
      case S_VXLAN:
        return this.vxlan();
      case S_GENEVE:
        return this.geneve();
      case S_INNER:
        return this.inner();
      default:
        return L_END;
    }
  }

  private begin(bytes: Uint8Array, start: number, end: number, state: number): this {
    this.bytes = bytes;
    this.pos = this.off = start;
    this.end = Math.min(end, bytes.length);
    this.depth = 0;
    this.stop = W_NONE;
    this.state = state;
    return this;
  }

  /** The walk ends after the header being returned. */
  private then(stop: WalkStop, arg = 0, arg2 = 0): void {
    this.state = S_END;
    this.stop = stop;
    this.stopArg = arg;
    this.stopArg2 = arg2;
  }

  /** The walk ends here, without a header. */
  private halt(stop: WalkStop, arg = 0, arg2 = 0): PacketLayer {
    this.then(stop, arg, arg2);
    return L_END;
  }

  private ethernet(): PacketLayer {
    const o = this.pos;
    if (this.end < o + 14) return this.halt(W_TRUNCATED);
    const type = u16(this.bytes, o + 12);
    this.off = o;
    this.ethertype = type;
    this.pos = o + 14;
    if (type < 0x0600) this.then(W_LENGTH_FRAME, type);
    else this.state = isVlanTag(type) ? S_TAG : S_NETWORK;
    return L_ETHERNET;
  }

  private tag(): PacketLayer {
    const o = this.pos;
    if (this.end < o + 4) return this.halt(W_TRUNCATED);
    const type = u16(this.bytes, o + 2);
    this.off = o;
    this.vlanTpid = this.ethertype;
    this.ethertype = type;
    this.pos = o + 4;
    this.state = isVlanTag(type) ? S_TAG : S_NETWORK;
    return L_VLAN;
  }

  private network(): PacketLayer {
    switch (this.ethertype) {
      case E_IPV4:
        return this.ipv4();
      case E_IPV6:
        return this.ipv6();
      case E_ARP:
      case E_RARP:
        return this.arp();
      case E_MACSEC:
        return this.macsec();
      default:
        return this.halt(W_ETHERTYPE, this.ethertype);
    }
  }

  private arp(): PacketLayer {
    const b = this.bytes;
    const o = this.pos;
    if (this.end < o + 8) return this.halt(W_TRUNCATED);
    this.off = o;
    const htype = this.arpHtype;
    const ptype = this.arpPtype;
    // htype 1 (Ethernet) and 6 (IEEE 802) both have 6-byte MACs.
    const known = (htype === 1 || htype === 6) && ptype === E_IPV4 && b[o + 4] === 6 && b[o + 5] === 4;
    this.arpWhole = known && this.end >= o + 28;
    if (!known) this.then(W_ARP_KIND, htype, ptype);
    else this.then(this.arpWhole ? W_NONE : W_TRUNCATED);
    return L_ARP;
  }

  private macsec(): PacketLayer {
    const b = this.bytes;
    const o = this.pos;
    if (this.end < o + 6) return this.halt(W_TRUNCATED);
    const tci = b[o] as number;
    const tagLen = tci & 0x20 ? 14 : 6; // the SCI is there when the SC bit is set
    if (this.end < o + tagLen) return this.halt(W_TRUNCATED);
    this.off = o;
    this.macsecTagLen = tagLen;
    // Encrypted (E) or changed (C) user data: nothing more to read.
    if (tci & 0x0c) this.then(W_NONE);
    else if (this.end < o + tagLen + 2) this.then(W_TRUNCATED);
    else {
      const type = u16(b, o + tagLen);
      this.ethertype = type;
      this.pos = o + tagLen + 2;
      this.state = isVlanTag(type) ? S_TAG : S_NETWORK;
    }
    return L_MACSEC;
  }

  private ipv4(): PacketLayer {
    const b = this.bytes;
    const o = this.pos;
    const n = this.end;
    if (n < o + 20) return this.halt(W_TRUNCATED);
    const version = (b[o] as number) >> 4;
    if (version !== 4) return this.halt(W_IP_VERSION, version, 4);
    const hl = ((b[o] as number) & 0x0f) * 4;
    this.off = o;
    this.ipVersion = 4;
    this.ipHeaderLen = hl;
    this.ipProto = b[o + 9] as number;
    this.ipFragOffset = (u16(b, o + 6) & 0x1fff) * 8;
    if (hl < 20) this.then(W_IPV4_HEADER_LEN, hl);
    else if (n < o + hl) this.then(W_TRUNCATED);
    else if (this.ipFragOffset !== 0)
      this.state = S_END; // a later fragment: no transport header
    else {
      // A total length of 0 (TSO/BIG TCP) or below the header's: use what was captured.
      const total = u16(b, o + 2);
      this.ipEnd = total >= hl ? o + total : n;
      this.pos = o + hl;
      this.l4End = Math.min(this.ipEnd, n);
      this.state = S_TRANSPORT;
    }
    return L_IPV4;
  }

  private ipv6(): PacketLayer {
    const b = this.bytes;
    const o = this.pos;
    if (this.end < o + 40) return this.halt(W_TRUNCATED);
    const version = (b[o] as number) >> 4;
    if (version !== 6) return this.halt(W_IP_VERSION, version, 6);
    const payloadLen = u16(b, o + 4);
    this.off = o;
    this.ipVersion = 6;
    this.ipHeaderLen = 40;
    this.ipProto = b[o + 6] as number;
    // A payload length of 0 is a jumbogram / BIG TCP packet: use what was captured.
    this.ipEnd = payloadLen > 0 ? o + 40 + payloadLen : this.end;
    this.pos = o + 40;
    this.state = S_IPV6_NEXT;
    return L_IPV6;
  }

  private ipv6Next(): PacketLayer {
    const b = this.bytes;
    const o = this.pos;
    const n = this.end;
    const nh = this.ipProto;
    let len: number;
    if (nh === P_HOPOPTS || nh === P_DSTOPTS || nh === P_ROUTING) {
      if (n < o + 8) return this.halt(W_TRUNCATED);
      len = ((b[o + 1] as number) + 1) * 8;
    } else if (nh === P_FRAGMENT) {
      if (n < o + 8) return this.halt(W_TRUNCATED);
      len = 8;
      if ((u16(b, o + 2) & 0xfff8) !== 0) this.state = S_END; // a later fragment: no transport header
    } else if (nh === P_AH) {
      if (n < o + 12) return this.halt(W_TRUNCATED);
      len = ((b[o + 1] as number) + 2) * 4;
    } else {
      if (o > n) return this.halt(W_TRUNCATED);
      this.l4End = Math.min(this.ipEnd, n);
      return this.transport();
    }
    this.off = o;
    this.extKind = nh;
    this.extLen = len;
    this.ipProto = b[o] as number;
    this.pos = o + len;
    return L_IPV6_EXT;
  }

  private transport(): PacketLayer {
    const o = this.pos;
    const have = this.l4End - o; // may be negative: extension headers beyond the IP packet
    this.off = o;
    this.payloadAt = o;
    switch (this.ipProto) {
      case P_TCP:
        return this.tcp(have);
      case P_UDP:
        return this.udp(o, have, false);
      case P_UDPLITE:
        return this.udp(o, have, true);
      case P_ICMP:
        return this.icmp(have, false);
      case P_ICMPV6:
        return this.icmp(have, true);
      case P_IPIP:
        return this.ipInIp(o, E_IPV4);
      case P_IPV6:
        return this.ipInIp(o, E_IPV6);
      case P_AH:
        return this.ah(o, have);
      case P_SCTP:
        // Ports and verification tag; the chunks are read from the bytes by who wants them.
        if (have < 12) return this.halt(W_TRUNCATED);
        this.payloadAt = o + 12;
        this.then(W_NONE);
        return L_OTHER;
      case P_ESP:
        // SPI and sequence number; the rest is encrypted.
        if (have < 8) return this.halt(W_TRUNCATED);
        this.payloadAt = o + 8;
        this.then(W_NONE);
        return L_OTHER;
      default:
        this.then(this.ipProto === P_NONE ? W_NONE : W_PROTOCOL, this.ipProto);
        return L_OTHER;
    }
  }

  /** AH after IPv4 (after IPv6 it is one of the extension headers): the transport follows it. */
  private ah(o: number, have: number): PacketLayer {
    if (have < 12) return this.halt(W_TRUNCATED);
    const len = ((this.bytes[o + 1] as number) + 2) * 4;
    this.extKind = P_AH;
    this.extLen = len;
    this.ipProto = this.bytes[o] as number;
    this.pos = o + len;
    this.state = S_TRANSPORT;
    return L_IPV6_EXT;
  }

  private tcp(have: number): PacketLayer {
    if (have < 20) return this.halt(W_TRUNCATED);
    const hl = this.tcpHeaderLen;
    this.payloadAt = this.off + hl;
    if (hl < 20) this.then(W_TCP_HEADER_LEN, hl);
    else this.state = S_END;
    return L_TCP;
  }

  private udp(o: number, have: number, lite: boolean): PacketLayer {
    if (have < 8) {
      if (!lite) return this.halt(W_TRUNCATED);
      // UDP-Lite cut short stays an undecoded transport, which the fingerprint hashes.
      this.then(W_TRUNCATED);
      return L_OTHER;
    }
    const sport = this.sport;
    const dport = this.dport;
    this.udpLite = lite;
    this.payloadAt = this.pos = o + 8;
    if (lite) this.state = S_END;
    else if (sport === VXLAN_PORT || dport === VXLAN_PORT) this.state = S_VXLAN;
    else if (sport === GENEVE_PORT || dport === GENEVE_PORT) this.state = S_GENEVE;
    else this.state = S_END;
    return L_UDP;
  }

  private icmp(have: number, v6: boolean): PacketLayer {
    if (have < 4) return this.halt(W_TRUNCATED);
    const type = this.icmpType;
    const echo = v6 ? type === 128 || type === 129 : type === 0 || type === 8 || type === 13 || type === 14;
    this.icmpV6 = v6;
    this.icmpEcho = echo;
    this.payloadAt = this.off + 8;
    if ((echo && have < 8) || (v6 && (type === 135 || type === 136) && have < 24)) this.then(W_TRUNCATED);
    else this.state = S_END;
    return L_ICMP;
  }

  private ipInIp(o: number, ethertype: number): PacketLayer {
    this.tunnelKind = T_IPIP;
    this.innerType = ethertype; // also what tunnelProtocol says when the walk does not go in
    this.enter(o, ethertype);
    return L_TUNNEL;
  }

  private vxlan(): PacketLayer {
    const o = this.pos;
    if (this.l4End < o + 8) return this.halt(W_TRUNCATED);
    this.off = o;
    this.tunnelKind = T_VXLAN;
    this.enter(o + 8, -1);
    return L_TUNNEL;
  }

  private geneve(): PacketLayer {
    const o = this.pos;
    if (this.l4End < o + 8) return this.halt(W_TRUNCATED);
    this.off = o;
    this.tunnelKind = T_GENEVE;
    const version = (this.bytes[o] as number) >> 6;
    const optionsLen = this.geneveOptionsLen;
    const protocol = this.tunnelProtocol;
    if (version !== 0) this.then(W_GENEVE_VERSION, version);
    else if (this.l4End < o + 8 + optionsLen) this.then(W_TRUNCATED);
    else this.enter(o + 8 + optionsLen, protocol === E_TEB ? -1 : protocol);
    return L_TUNNEL;
  }

  /** After a tunnel header: the inner packet at `at` (ethertype -1: from its Ethernet header). */
  private enter(at: number, ethertype: number): void {
    if (this.l4End <= at)
      this.state = S_END; // header-only capture: nothing of the inner packet
    else if (this.depth + 1 >= MAX_TUNNEL_FRAMES) this.then(W_TUNNEL_DEPTH);
    else {
      this.pos = at;
      this.innerType = ethertype;
      this.innerEnd = this.l4End;
      this.state = S_INNER;
    }
  }

  private inner(): PacketLayer {
    this.depth++;
    this.end = this.innerEnd;
    if (this.innerType < 0) return this.ethernet();
    this.ethertype = this.innerType;
    return this.network();
  }
}
