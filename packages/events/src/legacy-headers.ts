// The packet headers an older `skb` section describes field by field, as the layers of a parsed
// packet (packet.ts): 1.5's nested `eth`, `arp`, `ip`, `tcp`, `udp`, `icmp`, `icmpv6`, or the
// oldest flat fields (saddr, sport, tcp_seq, ...). The text line prints the nested ones like a
// captured packet; pcap export writes either as header bytes (legacy-packet.ts).
import type { IcmpLayer, IpLayer, L4Layer, ParsedPacket } from './packet.js';
import { ETH_P, IPPROTO } from './protocols.js';
import { isObj, num, str, type Obj } from './json-fields.js';

// retis's ArpOperation names, as 1.5 writes them.
const ARP_OPS: Record<string, number> = { Request: 1, Reply: 2, ReverseRequest: 3, ReverseReply: 4 };

/** The layers of 1.5's nested header fields; undefined when there are none. */
export function nestedHeadersPacket(skb: Obj): ParsedPacket | undefined {
  const p: ParsedPacket = { vlans: [], notes: [], truncated: false };
  let any = false;
  const eth = skb['eth'];
  if (isObj(eth)) {
    p.eth = {
      src: str(eth, 'src') ?? '00:00:00:00:00:00',
      dst: str(eth, 'dst') ?? '00:00:00:00:00:00',
      ethertype: num(eth, 'etype') ?? 0,
    };
    any = true;
  }
  const arp = skb['arp'];
  if (isObj(arp)) {
    const op = arp['operation'];
    p.arp = {
      htype: 1,
      ptype: ETH_P.IPV4,
      op: typeof op === 'string' ? (ARP_OPS[op] ?? 0) : typeof op === 'number' ? op : 0,
      senderMac: str(arp, 'sha'),
      senderIp: str(arp, 'spa'),
      targetMac: str(arp, 'tha'),
      targetIp: str(arp, 'tpa'),
    };
    any = true;
  }
  const ip = skb['ip'];
  if (isObj(ip)) {
    p.ip = nestedIp(ip);
    any = true;
  }
  const l4 = nestedL4(skb, p.ip);
  if (l4) {
    p.l4 = l4;
    any = true;
  }
  return any ? p : undefined;
}

function nestedIp(ip: Obj): IpLayer {
  const ecn = (num(ip, 'ecn') ?? 0) & 3;
  const proto = num(ip, 'protocol') ?? 0;
  const v4 = ip['v4'];
  const v6 = ip['v6'];
  if (isObj(v6) && !isObj(v4))
    return {
      version: 6,
      src: str(ip, 'saddr') ?? '::',
      dst: str(ip, 'daddr') ?? '::',
      proto,
      nextHeader: proto,
      ttl: num(ip, 'ttl') ?? 0,
      trafficClass: ecn,
      flowLabel: num(v6, 'flow_label') ?? 0,
      payloadLen: num(ip, 'len') ?? 0,
      ext: [],
    };
  const f = isObj(v4) ? v4 : {};
  // retis's flags: bit 1 DF, bit 2 MF ("+"), bit 0 the reserved bit; offset in 8-byte units.
  const flags = num(f, 'flags') ?? 0;
  return {
    version: 4,
    src: str(ip, 'saddr') ?? '0.0.0.0',
    dst: str(ip, 'daddr') ?? '0.0.0.0',
    proto,
    ttl: num(ip, 'ttl') ?? 0,
    tos: (num(f, 'tos') ?? 0) | ecn,
    id: num(f, 'id') ?? 0,
    df: (flags & 2) !== 0,
    mf: (flags & 4) !== 0,
    fragOffset: (num(f, 'offset') ?? 0) * 8,
    totalLen: num(ip, 'len') ?? 0,
    headerLen: 20,
    optionsLen: 0,
  };
}

function nestedL4(skb: Obj, ip: IpLayer | undefined): L4Layer | undefined {
  const tcp = skb['tcp'];
  if (isObj(tcp)) {
    const headerLen = (num(tcp, 'doff') ?? 5) * 4;
    const l4Len = ip ? (ip.version === 4 ? ip.totalLen - ip.headerLen : ip.payloadLen) : 0;
    return {
      proto: 'tcp',
      sport: num(tcp, 'sport') ?? 0,
      dport: num(tcp, 'dport') ?? 0,
      seq: num(tcp, 'seq') ?? 0,
      ack: num(tcp, 'ack_seq') ?? 0,
      flags: num(tcp, 'flags') ?? 0,
      window: num(tcp, 'window') ?? 0,
      headerLen,
      optionsLen: Math.max(0, headerLen - 20),
      payloadLen: Math.max(0, l4Len - headerLen),
    };
  }
  const udp = skb['udp'];
  if (isObj(udp))
    return { proto: 'udp', sport: num(udp, 'sport') ?? 0, dport: num(udp, 'dport') ?? 0, length: num(udp, 'len') ?? 8 };
  for (const key of ['icmp', 'icmpv6'] as const) {
    const icmp = skb[key];
    if (isObj(icmp)) {
      const layer: IcmpLayer = { proto: key, type: num(icmp, 'type') ?? 0, code: num(icmp, 'code') ?? 0 };
      return layer;
    }
  }
  return undefined;
}

/**
 * The layers the oldest flat fields describe, for header bytes: a field the file lacks (TTL, IP
 * id...) is 0. Undefined without addresses.
 */
export function flatHeadersPacket(s: Obj): ParsedPacket | undefined {
  const saddr = str(s, 'saddr');
  const daddr = str(s, 'daddr');
  const src = str(s, 'src');
  const dst = str(s, 'dst');
  const etype = num(s, 'etype');
  const p: ParsedPacket = { vlans: [], notes: [], truncated: false };
  const v6 = num(s, 'ip_version') === 6 || etype === ETH_P.IPV6 || (saddr?.includes(':') ?? false);
  p.eth = {
    src: src ?? '00:00:00:00:00:00',
    dst: dst ?? '00:00:00:00:00:00',
    ethertype: etype ?? (v6 ? ETH_P.IPV6 : ETH_P.IPV4),
  };
  if (saddr === undefined || daddr === undefined) return src !== undefined && dst !== undefined ? p : undefined;
  const proto = num(s, 'protocol') ?? 0;
  const len = num(s, 'l3_len') ?? 0;
  const ttl = num(s, 'ttl') ?? num(s, 'ip_ttl') ?? 0;
  p.ip = v6
    ? {
        version: 6,
        src: saddr,
        dst: daddr,
        proto,
        nextHeader: proto,
        ttl,
        trafficClass: 0,
        flowLabel: 0,
        payloadLen: Math.max(0, len - 40),
        ext: [],
      }
    : {
        version: 4,
        src: saddr,
        dst: daddr,
        proto,
        ttl,
        tos: 0,
        id: num(s, 'id') ?? num(s, 'ip_id') ?? 0,
        df: false,
        mf: false,
        fragOffset: 0,
        totalLen: len,
        headerLen: 20,
        optionsLen: 0,
      };
  const sport = num(s, 'sport') ?? 0;
  const dport = num(s, 'dport') ?? 0;
  if (proto === IPPROTO.TCP)
    p.l4 = {
      proto: 'tcp',
      sport,
      dport,
      seq: num(s, 'tcp_seq') ?? 0,
      ack: num(s, 'tcp_ack_seq') ?? 0,
      flags: num(s, 'tcp_flags') ?? 0,
      window: num(s, 'tcp_window') ?? 0,
      headerLen: 20,
      optionsLen: 0,
      payloadLen: 0,
    };
  else if (proto === IPPROTO.UDP) p.l4 = { proto: 'udp', sport, dport, length: num(s, 'udp_len') ?? 8 };
  else if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6)
    p.l4 = {
      proto: proto === IPPROTO.ICMP ? 'icmp' : 'icmpv6',
      type: num(s, 'icmp_type') ?? 0,
      code: num(s, 'icmp_code') ?? 0,
    };
  return p;
}
