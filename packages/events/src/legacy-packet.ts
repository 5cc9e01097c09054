// Header bytes for the packets older retis files describe field by field (legacy-headers.ts), so
// `pcap` exports those events too: Ethernet, IPv4/IPv6 (header checksum computed), then the
// TCP/UDP/ICMP header or ARP. Only headers: the capture length says so, the payload was never
// in the file. Values the file lacks are 0, transport checksums 0 (tshark leaves them unchecked).
import type { ArpLayer, IpLayer, L4Layer, ParsedPacket } from './packet.js';
import { ETH_P } from './protocols.js';
import { hasNestedHeaders } from './legacy-layout.js';
import { flatHeadersPacket, nestedHeadersPacket } from './legacy-headers.js';
import { type Obj } from './json-fields.js';

/** Header bytes rebuilt from an older `skb` section, and the packet's length on the wire. */
export interface LegacyPacket {
  data: Buffer;
  len: number;
}

/** Undefined when the section describes no header (or has raw bytes: those are the packet). */
export function legacyPacket(skb: unknown): LegacyPacket | undefined {
  if (typeof skb !== 'object' || skb === null) return undefined;
  const s = skb as Obj;
  const p = hasNestedHeaders(s) ? nestedHeadersPacket(s) : flatHeadersPacket(s);
  return p ? headerBytes(p) : undefined;
}

/** The bytes of a packet's headers (Ethernet made up when the layers have none). */
export function headerBytes(p: ParsedPacket): LegacyPacket {
  const parts: Buffer[] = [];
  const ip = p.ip;
  const ethertype = p.eth?.ethertype ?? (p.arp ? ETH_P.ARP : ip?.version === 6 ? ETH_P.IPV6 : ETH_P.IPV4);
  const eth = Buffer.alloc(14);
  mac(p.eth?.dst).copy(eth, 0);
  mac(p.eth?.src).copy(eth, 6);
  eth.writeUInt16BE(ethertype, 12);
  parts.push(eth);
  let wire = 14;
  if (p.arp) {
    parts.push(arpBytes(p.arp));
    wire += 28;
  } else if (ip) {
    const l4 = p.l4 ? l4Bytes(p.l4) : Buffer.alloc(0);
    parts.push(ip.version === 4 ? ipv4Bytes(ip, l4.length) : ipv6Bytes(ip, l4.length), l4);
    wire += ip.version === 4 ? Math.max(ip.totalLen, 20 + l4.length) : 40 + Math.max(ip.payloadLen, l4.length);
  }
  const data = Buffer.concat(parts);
  return { data, len: Math.max(wire, data.length) };
}

function mac(text: string | undefined): Buffer {
  const b = Buffer.alloc(6);
  const parts = (text ?? '').split(':');
  if (parts.length === 6) parts.forEach((h, i) => (b[i] = parseInt(h, 16) & 0xff || 0));
  return b;
}

function ipv4(text: string): Buffer {
  const b = Buffer.alloc(4);
  const parts = text.split('.');
  if (parts.length === 4) parts.forEach((d, i) => (b[i] = Number(d) & 0xff || 0));
  return b;
}

/** 16 bytes of an IPv6 text address (`::` and a trailing dotted quad allowed); zeros if malformed. */
export function ipv6(text: string): Buffer {
  const b = Buffer.alloc(16);
  let t = text.split('%')[0] ?? '';
  const words: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let tail: number[] = [];
  if (quad?.[1]) {
    const q = ipv4(quad[1]);
    tail = [q.readUInt16BE(0), q.readUInt16BE(2)];
    t = t.slice(0, t.length - quad[1].length);
    if (t.endsWith(':') && !t.endsWith('::')) t = t.slice(0, -1);
  }
  const hex = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16) & 0xffff || 0));
  const gap = t.indexOf('::');
  if (gap >= 0) {
    const head = hex(t.slice(0, gap));
    const rest = [...hex(t.slice(gap + 2)), ...tail];
    words.push(...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest);
  } else words.push(...hex(t), ...tail);
  if (words.length !== 8) return b;
  words.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Bytes(ip: Extract<IpLayer, { version: 4 }>, l4Len: number): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x45;
  b[1] = ip.tos & 0xff;
  b.writeUInt16BE(ip.totalLen > 0 ? ip.totalLen & 0xffff : 20 + l4Len, 2);
  b.writeUInt16BE(ip.id & 0xffff, 4);
  b.writeUInt16BE((ip.df ? 0x4000 : 0) | (ip.mf ? 0x2000 : 0) | ((ip.fragOffset >> 3) & 0x1fff), 6);
  b[8] = ip.ttl & 0xff;
  b[9] = ip.proto & 0xff;
  ipv4(ip.src).copy(b, 12);
  ipv4(ip.dst).copy(b, 16);
  b.writeUInt16BE(checksum(b), 10);
  return b;
}

function ipv6Bytes(ip: Extract<IpLayer, { version: 6 }>, l4Len: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32BE(((6 << 28) | ((ip.trafficClass & 0xff) << 20) | (ip.flowLabel & 0xfffff)) >>> 0, 0);
  b.writeUInt16BE(ip.payloadLen > 0 ? ip.payloadLen & 0xffff : l4Len, 4);
  b[6] = ip.proto & 0xff;
  b[7] = ip.ttl & 0xff;
  ipv6(ip.src).copy(b, 8);
  ipv6(ip.dst).copy(b, 24);
  return b;
}

function l4Bytes(l4: L4Layer): Buffer {
  switch (l4.proto) {
    case 'tcp': {
      // Options the file does not hold are end-of-list bytes, so the header keeps its length.
      const hl = l4.headerLen >= 20 && l4.headerLen <= 60 ? l4.headerLen : 20;
      const b = Buffer.alloc(hl);
      b.writeUInt16BE(l4.sport & 0xffff, 0);
      b.writeUInt16BE(l4.dport & 0xffff, 2);
      b.writeUInt32BE(l4.seq >>> 0, 4);
      b.writeUInt32BE(l4.ack >>> 0, 8);
      b[12] = ((hl / 4) << 4) | ((l4.flags >> 8) & 1);
      b[13] = l4.flags & 0xff;
      b.writeUInt16BE(l4.window & 0xffff, 14);
      return b;
    }
    case 'udp':
    case 'udplite': {
      const b = Buffer.alloc(8);
      b.writeUInt16BE(l4.sport & 0xffff, 0);
      b.writeUInt16BE(l4.dport & 0xffff, 2);
      b.writeUInt16BE(l4.length & 0xffff, 4);
      return b;
    }
    case 'icmp':
    case 'icmpv6': {
      const b = Buffer.alloc(8);
      b[0] = l4.type & 0xff;
      b[1] = l4.code & 0xff;
      return b;
    }
    default: // SCTP, ESP: older files never describe them
      return Buffer.alloc(0);
  }
}

function arpBytes(a: ArpLayer): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(a.htype, 0);
  b.writeUInt16BE(a.ptype, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(a.op & 0xffff, 6);
  mac(a.senderMac).copy(b, 8);
  ipv4(a.senderIp ?? '').copy(b, 14);
  mac(a.targetMac).copy(b, 18);
  ipv4(a.targetIp ?? '').copy(b, 24);
  return b;
}
