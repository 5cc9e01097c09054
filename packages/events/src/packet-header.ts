// The fields of the header a PacketCursor stands on (packet-walk.ts), as getters that read the
// header's bytes when asked: no object per packet, and no work for a field nobody reads.
import { T_GENEVE, T_IPIP, T_VXLAN, W_NONE, type TunnelKind, type WalkStop } from './packet-layers.js';

export const u16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);
export const u32 = (b: Uint8Array, o: number): number => ((u16(b, o) << 16) >>> 0) + u16(b, o + 2);
const EMPTY = new Uint8Array(0);

/**
 * What the walk knows of the packet and of the header it stands on. The getters read the bytes of
 * that header (at `off`): valid until the cursor moves on.
 */
export abstract class PacketHeaderFields {
  bytes: Uint8Array = EMPTY;
  /** End of the current frame in `bytes` (an inner frame ends where its outer transport does). */
  end = 0;
  /** Start of the current header. */
  off = 0;
  /** 0 in the outer frame, n inside n tunnels. */
  depth = 0;
  /** Why the walk ended (valid once next() returned END; set as soon as it is known). */
  stop: WalkStop = W_NONE;
  stopArg = 0;
  stopArg2 = 0;
  /**
   * Ethernet: its type field as on the wire (0x8100 for a tagged frame, below 0x0600 a length);
   * VLAN: the type after the tag.
   */
  ethertype = 0;
  /** VLAN: the type that announced the tag (0x8100, 0x88a8 or 0x9100). */
  vlanTpid = 0;
  ipVersion = 0;
  ipHeaderLen = 0;
  /** The protocol that follows: IPv4's; IPv6's, updated by each extension header walked. */
  ipProto = 0;
  /** IPv4 fragment offset, in bytes. */
  ipFragOffset = 0;
  /** IPv6 extension header: which one, as its protocol number (IPPROTO.HOPOPTS, FRAGMENT...). */
  extKind = 0;
  extLen = 0;
  /** End of the captured transport bytes (within the IP packet). */
  l4End = 0;
  /** Where the transport's payload starts (a header the walk does not decode: its start). */
  payloadAt = 0;
  udpLite = false;
  icmpV6 = false;
  /** An echo (request/reply, or ICMPv4 timestamp): icmpId and icmpSeq are its id and sequence. */
  icmpEcho = false;
  tunnelKind: TunnelKind = T_VXLAN;
  /** MACsec: the SecTAG's length (6, or 14 with an SCI). */
  macsecTagLen = 6;

  /** End of the current IP packet as announced (or the capture's end when it announces none). */
  protected ipEnd = 0;
  /** ARP for Ethernet and IPv4, captured whole. */
  protected arpWhole = false;
  /** The ethertype of a tunnel's inner packet (-1: it starts with an Ethernet header). */
  protected innerType = -1;

  // Ethernet and VLAN
  get macDstAt(): number {
    return this.off;
  }
  get macSrcAt(): number {
    return this.off + 6;
  }
  get vlanPcp(): number {
    return (this.bytes[this.off] as number) >> 5;
  }
  get vlanDei(): boolean {
    return ((this.bytes[this.off] as number) & 0x10) !== 0;
  }
  get vlanVid(): number {
    return u16(this.bytes, this.off) & 0xfff;
  }

  // MACsec (802.1AE SecTAG)
  /** TCI bits (V, ES, SC, SCB, E, C) and association number (low 2 bits). */
  get macsecTci(): number {
    return this.bytes[this.off] as number;
  }
  /** Short length: the user data length when below 48, else 0. */
  get macsecShortLen(): number {
    return (this.bytes[this.off + 1] as number) & 0x3f;
  }
  get macsecPn(): number {
    return u32(this.bytes, this.off + 2);
  }
  /** Offset of the 8-byte SCI; -1 without one. */
  get macsecSciAt(): number {
    return this.macsecTagLen === 14 ? this.off + 6 : -1;
  }

  // ARP (and RARP)
  get arpHtype(): number {
    return u16(this.bytes, this.off);
  }
  get arpPtype(): number {
    return u16(this.bytes, this.off + 2);
  }
  get arpOp(): number {
    return u16(this.bytes, this.off + 6);
  }
  /** Offsets of the Ethernet/IPv4 addresses; -1 when the ARP kind is another or they were not captured. */
  get arpSenderMacAt(): number {
    return this.arpWhole ? this.off + 8 : -1;
  }
  get arpSenderIpAt(): number {
    return this.arpWhole ? this.off + 14 : -1;
  }
  get arpTargetMacAt(): number {
    return this.arpWhole ? this.off + 18 : -1;
  }
  get arpTargetIpAt(): number {
    return this.arpWhole ? this.off + 24 : -1;
  }

  // IPv4 and IPv6
  /** TTL, or IPv6 hop limit. */
  get ipTtl(): number {
    return this.bytes[this.off + (this.ipVersion === 4 ? 8 : 7)] as number;
  }
  get ipSrcAt(): number {
    return this.off + (this.ipVersion === 4 ? 12 : 8);
  }
  get ipDstAt(): number {
    return this.off + (this.ipVersion === 4 ? 16 : 24);
  }
  get ipTos(): number {
    return this.bytes[this.off + 1] as number;
  }
  get ipTotalLen(): number {
    return u16(this.bytes, this.off + 2);
  }
  get ipId(): number {
    return u16(this.bytes, this.off + 4);
  }
  get ipDf(): boolean {
    return ((this.bytes[this.off + 6] as number) & 0x40) !== 0;
  }
  get ipMf(): boolean {
    return ((this.bytes[this.off + 6] as number) & 0x20) !== 0;
  }
  get ip6TrafficClass(): number {
    return (u16(this.bytes, this.off) >> 4) & 0xff;
  }
  get ip6FlowLabel(): number {
    return u32(this.bytes, this.off) & 0xfffff;
  }
  get ip6PayloadLen(): number {
    return u16(this.bytes, this.off + 4);
  }
  /** The Next Header field of the fixed IPv6 header. */
  get ip6NextHeader(): number {
    return this.bytes[this.off + 6] as number;
  }

  // IPv6 extension headers
  get extRoutingType(): number {
    return this.bytes[this.off + 2] as number;
  }
  get extSegmentsLeft(): number {
    return this.bytes[this.off + 3] as number;
  }
  /** Fragment header: offset in bytes, more fragments, identification. */
  get extFragOffset(): number {
    return u16(this.bytes, this.off + 2) & 0xfff8;
  }
  get extFragMore(): boolean {
    return ((this.bytes[this.off + 3] as number) & 1) !== 0;
  }
  get extFragId(): number {
    return u32(this.bytes, this.off + 4);
  }
  get extAhSpi(): number {
    return u32(this.bytes, this.off + 4);
  }
  get extAhSeq(): number {
    return u32(this.bytes, this.off + 8);
  }
  /** AH: the integrity check value's bytes [extAhIcvAt, extAhIcvEnd), as far as captured. */
  get extAhIcvAt(): number {
    return this.off + 12;
  }
  get extAhIcvEnd(): number {
    return Math.min(this.off + this.extLen, this.end);
  }

  // Transport
  /** The transport length the IP header announces (it may exceed what was captured). */
  get l4Len(): number {
    return this.ipEnd - this.off;
  }
  get sport(): number {
    return u16(this.bytes, this.off);
  }
  get dport(): number {
    return u16(this.bytes, this.off + 2);
  }
  get tcpSeq(): number {
    return u32(this.bytes, this.off + 4);
  }
  get tcpAck(): number {
    return u32(this.bytes, this.off + 8);
  }
  /** The 9 flag bits (NS/AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN). */
  get tcpFlags(): number {
    return u16(this.bytes, this.off + 12) & 0x1ff;
  }
  get tcpWindow(): number {
    return u16(this.bytes, this.off + 14);
  }
  get tcpHeaderLen(): number {
    return ((this.bytes[this.off + 12] as number) >> 4) * 4;
  }
  /** The UDP length field (header included); UDP-Lite's checksum coverage. */
  get udpLength(): number {
    return u16(this.bytes, this.off + 4);
  }
  /** SCTP: the verification tag. */
  get sctpVtag(): number {
    return u32(this.bytes, this.off + 4);
  }
  get espSpi(): number {
    return u32(this.bytes, this.off);
  }
  get espSeq(): number {
    return u32(this.bytes, this.off + 4);
  }
  get icmpType(): number {
    return this.bytes[this.off] as number;
  }
  get icmpCode(): number {
    return this.bytes[this.off + 1] as number;
  }
  /** The two 16-bit words after the checksum; -1 when not captured. */
  get icmpId(): number {
    return this.l4End - this.off >= 8 ? u16(this.bytes, this.off + 4) : -1;
  }
  get icmpSeq(): number {
    return this.l4End - this.off >= 8 ? u16(this.bytes, this.off + 6) : -1;
  }
  /** Neighbor solicitation/advertisement target address; -1 for another type or not captured. */
  get icmpTargetAt(): number {
    const type = this.icmpType;
    return this.icmpV6 && (type === 135 || type === 136) && this.l4End - this.off >= 24 ? this.off + 8 : -1;
  }

  // Tunnel (VXLAN, Geneve; IP-in-IP has only its kind and protocol)
  get vni(): number {
    return this.tunnelKind === T_IPIP ? 0 : (u32(this.bytes, this.off + 4) >>> 8) & 0xffffff;
  }
  get tunnelFlags(): number {
    const k = this.tunnelKind;
    return k === T_IPIP ? 0 : (this.bytes[this.off + (k === T_VXLAN ? 0 : 1)] as number);
  }
  /** Geneve: the inner protocol (E_TEB: Ethernet); IP-in-IP: E_IPV4 or IPV6. */
  get tunnelProtocol(): number {
    const k = this.tunnelKind;
    if (k === T_GENEVE) return u16(this.bytes, this.off + 2);
    return k === T_IPIP ? this.innerType : 0;
  }
  get geneveOptionsLen(): number {
    return this.tunnelKind === T_GENEVE ? ((this.bytes[this.off] as number) & 0x3f) * 4 : 0;
  }
}
