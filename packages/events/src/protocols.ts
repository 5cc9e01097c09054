// Protocol numbers and the names tcpdump prints for them (ethertypes, IP protocols, ICMP types).

export const ETH_P = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  IPV6: 0x86dd,
  MACSEC: 0x88e5,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  TEB: 0x6558,
} as const;

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  /** IPv4 in IP (IP-in-IP). */
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  /** IPv6 in IP. */
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
  UDPLITE: 136,
} as const;

const ETHERTYPES: Record<number, string> = {
  0x0800: 'IPv4',
  0x0806: 'ARP',
  0x8035: 'Reverse ARP',
  0x86dd: 'IPv6',
  0x8100: '802.1Q',
  0x88a8: '802.1Q-QinQ',
  0x9100: '802.1Q-9100',
  0x6558: 'TEB',
  0x8847: 'MPLS unicast',
  0x8848: 'MPLS multicast',
  0x8863: 'PPPoE D',
  0x8864: 'PPPoE S',
  0x888e: 'EAPOL',
  0x88cc: 'LLDP',
  0x88e5: 'MACsec',
  0x88f7: 'PTP',
  0x8902: 'CFM',
};

const IP_PROTOS: Record<number, string> = {
  0: 'Options',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  43: 'Routing',
  44: 'Fragment',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  59: 'NONE',
  60: 'DSTOPTS',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  132: 'SCTP',
  136: 'UDPLite',
};

const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply',
  3: 'destination unreachable',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'timestamp request',
  14: 'timestamp reply',
};

const ICMPV6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'multicast listener report',
  132: 'multicast listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  143: 'multicast listener report v2',
};

const SCTP_CHUNKS: Record<number, string> = {
  0: 'DATA',
  1: 'INIT',
  2: 'INIT_ACK',
  3: 'SACK',
  4: 'HEARTBEAT',
  5: 'HEARTBEAT_ACK',
  6: 'ABORT',
  7: 'SHUTDOWN',
  8: 'SHUTDOWN_ACK',
  9: 'ERROR',
  10: 'COOKIE_ECHO',
  11: 'COOKIE_ACK',
  12: 'ECNE',
  13: 'CWR',
  14: 'SHUTDOWN_COMPLETE',
  15: 'AUTH',
  64: 'I_DATA',
  128: 'ASCONF_ACK',
  130: 'RE_CONFIG',
  132: 'PAD',
  192: 'FORWARD_TSN',
  193: 'ASCONF',
  194: 'I_FORWARD_TSN',
};

/** `INIT`, or the number of a chunk type without a name. */
export function sctpChunkName(type: number): string {
  return SCTP_CHUNKS[type] ?? String(type);
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** `IPv4 (0x0800)`, `Unknown (0x88b5)`. */
export function ethertypeName(t: number): string {
  return `${ETHERTYPES[t] ?? 'Unknown'} (0x${hex4(t)})`;
}

/** `TCP (6)`, `unknown (253)`. */
export function ipProtoName(p: number): string {
  return `${IP_PROTOS[p] ?? 'unknown'} (${p})`;
}

export function icmpTypeName(type: number, v6: boolean): string | undefined {
  return (v6 ? ICMPV6_TYPES : ICMP_TYPES)[type];
}
