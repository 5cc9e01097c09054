// One tcpdump-like line for a parsed packet, as retis prints it:
// `10.0.0.1.34567 > 10.0.0.2.80 tos 0x0 ttl 64 id 123 off 0 [DF] len 60 proto TCP (6) flags [S] seq 1 win 64240`.
// What retis does not print (IPv4/TCP options, IPv6 extension headers, tunnels...) is added
// between or after retis's words, never instead of them.
import { ethertypeName, ipProtoName, sctpChunkName } from './protocols.js';
import type { IcmpLayer, Ipv6ExtHeader, L4Layer, MacsecLayer, ParsedPacket, TcpLayer, TunnelLayer } from './packet.js';

export interface PacketFormatOptions {
  /** Print the Ethernet header (and VLAN tags) first, like `retis -e` / `tcpdump -e`. */
  link?: boolean;
}

// tcpdump's order and letters; `.` is ACK, `e` the AccECN/NS bit.
const TCP_FLAGS: [number, string][] = [
  [0x001, 'F'],
  [0x002, 'S'],
  [0x004, 'R'],
  [0x008, 'P'],
  [0x010, '.'],
  [0x020, 'U'],
  [0x040, 'E'],
  [0x080, 'W'],
  [0x100, 'e'],
];

/** `S.`, `P.`, or `none`, as tcpdump prints TCP flags. */
export function tcpFlagsText(flags: number): string {
  const s = TCP_FLAGS.filter(([bit]) => (flags & bit) !== 0)
    .map(([, letter]) => letter)
    .join('');
  return s === '' ? 'none' : s;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function formatPacket(p: ParsedPacket, opts: PacketFormatOptions = {}): string {
  const parts: string[] = [];
  if (opts.link && p.eth) {
    const e = p.eth;
    parts.push(
      e.ethertype < 0x0600
        ? `${e.src} > ${e.dst} 802.3 length ${e.ethertype}`
        : `${e.src} > ${e.dst} ethertype ${ethertypeName(e.ethertype)}`,
    );
    for (const v of p.vlans)
      parts.push(`vlan ${v.vid} p ${v.pcp}${v.dei ? ' DEI' : ''} ethertype ${ethertypeName(v.ethertype)}`);
    if (p.macsec) parts.push(formatMacsec(p.macsec));
  } else if (p.macsec?.opaque) parts.push('802.1AE MACsec frame'); // at least say what it is
  if (p.arp) parts.push(formatArp(p));
  if (p.ip) parts.push(formatIp(p));
  if (p.l4) {
    const l4 = formatL4(p.l4);
    if (l4 !== '') parts.push(l4);
  }
  if (p.tunnel) {
    const t = formatTunnel(p.tunnel);
    if (t !== '') parts.push(t);
    // IP-in-IP: the inner packet follows the outer IP header's `proto IPIP (4)`.
    if (p.inner) parts[parts.length - 1] += `: ${formatPacket(p.inner, opts)}`;
  }
  for (const n of p.notes) parts.push(`(${n})`);
  if (p.truncated) parts.push('[truncated]');
  return parts.join(' ');
}

// retis's letters for the TCI bits: E encrypted, C changed, S end station, B single copy
// broadcast, I SCI present.
const MACSEC_FLAGS: [number, string][] = [
  [0x08, 'E'],
  [0x04, 'C'],
  [0x40, 'S'],
  [0x10, 'B'],
  [0x20, 'I'],
];

function formatMacsec(m: MacsecLayer): string {
  const flags = MACSEC_FLAGS.filter(([bit]) => (m.tci & bit) !== 0)
    .map(([, l]) => l)
    .join('');
  let s = `MACsec an ${m.an} pn ${m.pn} flags [${flags}]`;
  if (m.shortLen > 0) s += ` sl ${m.shortLen}`;
  if (m.sci !== undefined) s += ` sci 0x${m.sci}`;
  return s;
}

function formatTunnel(t: TunnelLayer): string {
  switch (t.kind) {
    case 'vxlan':
      return `VXLAN vni ${t.vni}`;
    case 'geneve': {
      let s = `Geneve vni ${t.vni}${t.protocol === undefined ? '' : ` proto ${ethertypeName(t.protocol)}`}`;
      if (t.options?.length)
        s += ` options [${t.options.map((o) => `class 0x${o.class.toString(16)} type 0x${o.type.toString(16)}${o.type & 0x80 ? '(C)' : ''} len ${o.len}`).join(', ')}]`;
      return s;
    }
    case 'ipip':
      return '';
  }
}

function formatArp(p: ParsedPacket): string {
  const a = p.arp;
  if (!a) return '';
  if (a.op === 1 && a.targetIp !== undefined) return `request who-has ${a.targetIp} tell ${a.senderIp ?? '?'}`;
  if (a.op === 2 && a.senderIp !== undefined) return `reply ${a.senderIp} is-at ${a.senderMac ?? '?'}`;
  // RARP asks for the target's own IPv4 address.
  if (a.op === 3 && a.targetMac !== undefined)
    return `reverse request who-is ${a.targetMac} tell ${a.senderMac ?? '?'}`;
  if (a.op === 4 && a.targetMac !== undefined) return `reverse reply ${a.targetMac} at ${a.targetIp ?? '?'}`;
  return `ARP op ${a.op}`;
}

function endpoints(p: ParsedPacket): [string, string] {
  const ip = p.ip;
  if (!ip) return ['', ''];
  const l4 = p.l4;
  if (l4 && (l4.proto === 'tcp' || l4.proto === 'udp' || l4.proto === 'udplite' || l4.proto === 'sctp'))
    return [`${ip.src}.${l4.sport}`, `${ip.dst}.${l4.dport}`];
  return [ip.src, ip.dst];
}

// retis's words for the two ECN bits of the TOS / traffic class.
const ECN = ['', ' ECT(1)', ' ECT(0)', ' CE'];

/** `proto TCP (6)`; retis leaves the name out when it has none: `(143)`. */
function protoText(proto: number): string {
  const name = ipProtoName(proto);
  return name.startsWith('unknown ') ? `(${proto})` : `proto ${name}`;
}

function formatIp(p: ParsedPacket): string {
  const ip = p.ip;
  if (!ip) return '';
  const [src, dst] = endpoints(p);
  const s = [`${src} > ${dst}`];
  if (ip.version === 4) {
    // retis prints the DSCP (the TOS without its ECN bits) and the ECN codepoint as a word.
    s[0] += ` tos ${hex(ip.tos >> 2)}${ECN[ip.tos & 3] ?? ''}`;
    s.push(`ttl ${ip.ttl} id ${ip.id} off ${ip.fragOffset}`);
    const flags = [...(ip.mf ? ['+'] : []), ...(ip.df ? ['DF'] : [])];
    if (flags.length > 0) s.push(`[${flags.join(',')}]`);
    if (ip.totalLen > 0) s.push(`len ${ip.totalLen}`);
    if (ip.optionsLen > 0) s.push(`opts len ${ip.optionsLen}`);
  } else {
    s[0] += ECN[ip.trafficClass & 3] ?? '';
    s.push(`ttl ${ip.ttl}`);
    if (ip.trafficClass >> 2 !== 0) s.push(`class ${hex(ip.trafficClass)}`);
    s.push(`label ${hex(ip.flowLabel)}`);
    if (ip.payloadLen > 0) s.push(`len ${ip.payloadLen}`);
    for (const e of ip.ext) s.push(formatExt(e));
  }
  s.push(protoText(ip.proto));
  if (ip.version === 4 && ip.ah)
    s.push(`${formatSpiSeq(ip.ah.spi, ip.ah.seq)} icv 0x${ip.ah.icv} ${protoText(ip.ah.next)}`);
  return s.join(' ');
}

function formatExt(e: Ipv6ExtHeader): string {
  switch (e.kind) {
    case 'hop-by-hop':
      return 'HBH';
    case 'destination':
      return 'DSTOPT';
    case 'routing':
      return `RT6 (type ${e.routingType}, segleft ${e.segmentsLeft})`;
    case 'fragment':
      return `frag (off ${e.offset}, id ${hex(e.id)}${e.more ? ', MF' : ''})`;
    case 'ah':
      return `AH (spi ${hex(e.spi)}, seq ${e.seq})`;
  }
}

function formatL4(l4: L4Layer): string {
  switch (l4.proto) {
    case 'tcp':
      return formatTcp(l4);
    case 'udp':
      return `len ${Math.max(0, l4.length - 8)}`;
    case 'udplite':
      return `UDP-Lite coverage ${l4.length}`;
    case 'icmp':
    case 'icmpv6':
      return formatIcmp(l4);
    case 'sctp':
      return `vtag ${hex8(l4.vtag)} chunks [${l4.chunks.map(sctpChunkName).join(',')}]`;
    case 'esp':
      return formatSpiSeq(l4.spi, l4.seq);
  }
}

const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** IPsec's SPI and sequence number, as retis writes them. */
function formatSpiSeq(spi: number, seq: number): string {
  return `spi ${hex8(spi)} seq ${hex(seq)}`;
}

function formatTcp(t: TcpLayer): string {
  // retis's letters and order; the ECN bits (E, W, e) are retrace's additions. No flag: `[]`.
  const letters = TCP_FLAGS.filter(([bit]) => (t.flags & bit) !== 0)
    .map(([, l]) => l)
    .join('');
  // seq FIRST:NEXT when the segment carries data, as retis (32-bit sequence space).
  let s = `flags [${letters}] seq ${t.seq}`;
  if (t.payloadLen > 0) s += `:${(t.seq + t.payloadLen) % 2 ** 32}`;
  if (t.flags & 0x010) s += ` ack ${t.ack}`;
  s += ` win ${t.window}`;
  if (t.optionsLen > 0) s += ` options len ${t.optionsLen}`;
  return s;
}

/** retis prints an ICMP or ICMPv6 header as its two numbers. */
function formatIcmp(i: IcmpLayer): string {
  return `type ${i.type} code ${i.code}`;
}
