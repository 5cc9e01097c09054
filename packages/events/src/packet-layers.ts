// The codes of the packet walk (packet-walk.ts): which header the cursor stands on, why the walk
// ended, which tunnel. The walk's own modules use the short constants (L_, W_, T_) rather than
// the exported objects' properties: smaller bytecode, which keeps the walk's steps within what V8
// inlines into a caller's loop (the aggregator fingerprints most events).

export const L_END = 0;
export const L_ETHERNET = 1;
export const L_VLAN = 2;
export const L_ARP = 3;
export const L_IPV4 = 4;
export const L_IPV6 = 5;
export const L_IPV6_EXT = 6;
export const L_TCP = 7;
export const L_UDP = 8;
export const L_ICMP = 9;
export const L_OTHER = 10;
export const L_TUNNEL = 11;
export const L_MACSEC = 12;

/** What the cursor stands on after next(). */
export const PacketLayer = {
  /** The walk is over; `stop` says why. */
  END: L_END,
  ETHERNET: L_ETHERNET,
  VLAN: L_VLAN,
  ARP: L_ARP,
  IPV4: L_IPV4,
  IPV6: L_IPV6,
  /** An IPv6 extension header, or AH after an IPv4 header (extKind: IPPROTO.AH). */
  IPV6_EXT: L_IPV6_EXT,
  TCP: L_TCP,
  /** UDP, or UDP-Lite (`udpLite`: same header, the length field is the checksum coverage). */
  UDP: L_UDP,
  /** ICMP or ICMPv6 (`icmpV6`). */
  ICMP: L_ICMP,
  /**
   * A transport the walk goes no further into: SCTP and ESP (ipProto says which; their fields
   * are read, the walk ends without a stop reason), one it does not decode (GRE...: stop
   * PROTOCOL), or IPv6's No Next Header.
   */
  OTHER: L_OTHER,
  /** A VXLAN or Geneve header (after its UDP layer), or an IP-in-IP transport. */
  TUNNEL: L_TUNNEL,
  /** An 802.1AE MACsec SecTAG; the walk goes on unless the payload is encrypted or changed. */
  MACSEC: L_MACSEC,
} as const;
export type PacketLayer = (typeof PacketLayer)[keyof typeof PacketLayer];

export const W_NONE = 0;
export const W_TRUNCATED = 1;
export const W_LENGTH_FRAME = 2;
export const W_ETHERTYPE = 3;
export const W_ARP_KIND = 4;
export const W_IP_VERSION = 5;
export const W_IPV4_HEADER_LEN = 6;
export const W_PROTOCOL = 7;
export const W_TCP_HEADER_LEN = 8;
export const W_GENEVE_VERSION = 9;
export const W_TUNNEL_DEPTH = 10;

/** Why the walk ended. */
export const WalkStop = {
  /** Nothing left that the walk decodes (or still walking). */
  NONE: W_NONE,
  /** A header was cut by the end of the capture. */
  TRUNCATED: W_TRUNCATED,
  /** An 802.3 frame (stopArg: its length field). */
  LENGTH_FRAME: W_LENGTH_FRAME,
  /** An ethertype without a decoder (stopArg). */
  ETHERTYPE: W_ETHERTYPE,
  /** ARP for other hardware or protocol addresses (stopArg: htype, stopArg2: ptype). */
  ARP_KIND: W_ARP_KIND,
  /** The IP header's version (stopArg) is not the one announced (stopArg2). */
  IP_VERSION: W_IP_VERSION,
  /** An IPv4 header length (stopArg) below 20. */
  IPV4_HEADER_LEN: W_IPV4_HEADER_LEN,
  /** A transport protocol without a decoder (stopArg). */
  PROTOCOL: W_PROTOCOL,
  /** A TCP header length (stopArg) below 20; the TCP fields were read. */
  TCP_HEADER_LEN: W_TCP_HEADER_LEN,
  /** A Geneve version (stopArg) other than 0. */
  GENEVE_VERSION: W_GENEVE_VERSION,
  /** More nested tunnels than MAX_TUNNEL_FRAMES: the inner packet is not walked. */
  TUNNEL_DEPTH: W_TUNNEL_DEPTH,
} as const;
export type WalkStop = (typeof WalkStop)[keyof typeof WalkStop];

export const T_VXLAN = 1;
export const T_GENEVE = 2;
export const T_IPIP = 3;
export const TunnelKind = { VXLAN: T_VXLAN, GENEVE: T_GENEVE, IPIP: T_IPIP } as const;
export type TunnelKind = (typeof TunnelKind)[keyof typeof TunnelKind];

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;
/** Frames walked at most: the outer one and 3 nested tunnels; a deeper one is only reported. */
export const MAX_TUNNEL_FRAMES = 4;
