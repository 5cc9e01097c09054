// One tcpdump-like line for a parsed packet, in retis's style:
// `10.0.0.1.34567 > 10.0.0.2.80 ttl 64 tos 0x0 id 123 off 0 [DF] len 60 proto TCP (6) flags [S] seq 1, win 64240`.
import { ethertypeName, icmpTypeName, ipProtoName, sctpChunkName } from './protocols.js';
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

function formatIp(p: ParsedPacket): string {
  const ip = p.ip;
  if (!ip) return '';
  const [src, dst] = endpoints(p);
  const s = [`${src} > ${dst}`];
  if (ip.version === 4) {
    s.push(`ttl ${ip.ttl} tos ${hex(ip.tos)} id ${ip.id} off ${ip.fragOffset}`);
    if (ip.df) s.push('[DF]');
    if (ip.mf) s.push('[MF]');
    s.push(`len ${ip.totalLen}`);
    if (ip.optionsLen > 0) s.push(`opts len ${ip.optionsLen}`);
  } else {
    s.push(`ttl ${ip.ttl}`);
    if (ip.trafficClass !== 0) s.push(`class ${hex(ip.trafficClass)}`);
    s.push(`label ${hex(ip.flowLabel)} len ${ip.payloadLen}`);
    for (const e of ip.ext) s.push(formatExt(e));
  }
  s.push(`proto ${ipProtoName(ip.proto)}`);
  if (ip.version === 4 && ip.ah)
    s.push(`${formatSpiSeq(ip.ah.spi, ip.ah.seq)} icv 0x${ip.ah.icv} proto ${ipProtoName(ip.ah.next)}`);
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
  let s = `flags [${tcpFlagsText(t.flags)}] seq ${t.seq}`;
  if (t.flags & 0x010) s += `, ack ${t.ack}`;
  s += `, win ${t.window}`;
  if (t.optionsLen > 0) s += `, options len ${t.optionsLen}`;
  return s;
}

function formatIcmp(i: IcmpLayer): string {
  const v6 = i.proto === 'icmpv6';
  const label = v6 ? 'ICMP6' : 'ICMP';
  const name = icmpTypeName(i.type, v6);
  if (name === undefined) return `${label} type ${i.type} code ${i.code}`;
  let s = `${label} ${name}`;
  if (i.id !== undefined) s += `, id ${i.id}, seq ${i.seq ?? 0}`;
  else if (i.target !== undefined) s += i.type === 135 ? `, who has ${i.target}` : `, tgt is ${i.target}`;
  else if (i.code !== 0) s += `, code ${i.code}`;
  return s;
}
