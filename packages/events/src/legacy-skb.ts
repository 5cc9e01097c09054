// Older retis files carry packet headers as fields of the `skb` section instead of (or besides)
// a `packet` with the raw bytes: flat (saddr, daddr, sport, dev_name, ...) in the oldest, nested
// (`skb.eth`, `skb.ip`, `skb.tcp`, ...) in 1.5. We show whatever of it is there, reading every
// field defensively: these files have no schema we can rely on. The nested headers print through
// the packet formatter, like a packet captured whole.
import type { Dev, Netns, SkbDataRef, SkbMeta } from './gen/event.js';
import { ethertypeName, ipProtoName } from './protocols.js';
import { formatPacket, tcpFlagsText } from './packet-format.js';
import { parsePacketBase64 } from './packet.js';
import { hasNestedHeaders } from './legacy-layout.js';
import { nestedHeadersPacket } from './legacy-headers.js';
import { isObj, num, str, bool, type Obj } from './json-fields.js';

/** What the flat section tells, in the shapes of today's sections. */
export interface LegacySkbView {
  packetLine?: string;
  dev?: Partial<Dev>;
  netns?: Partial<Netns>;
  meta?: Partial<SkbMeta>;
  dataRef?: Partial<SkbDataRef>;
}

const LEGACY_KEYS = ['saddr', 'daddr', 'etype', 'dev_name', 'ifindex', 'netns', 'protocol', 'users', 'src', 'dst'];

/** True when an `skb` section has the old flat shape. */
export function isFlatSkb(skb: unknown): skb is Obj {
  return isObj(skb) && LEGACY_KEYS.some((k) => k in skb);
}

/** True when an `skb` section has an older shape: flat, or 1.5's nested headers, dev, ns or packet. */
export function isLegacySkb(skb: unknown): skb is Obj {
  return isFlatSkb(skb) || hasNestedHeaders(skb) || (isObj(skb) && ['dev', 'ns', 'packet'].some((k) => isObj(skb[k])));
}

export function legacySkbView(skb: unknown, link: boolean): LegacySkbView | undefined {
  if (!isLegacySkb(skb)) return undefined;
  if (!isFlatSkb(skb)) return nestedView(skb, link);
  const view: LegacySkbView = {};
  const line = packetLine(skb, link);
  if (line !== '') view.packetLine = line;

  const ifindex = num(skb, 'ifindex');
  const name = str(skb, 'dev_name');
  const rx = num(skb, 'rx_ifindex');
  if (ifindex !== undefined || name !== undefined || rx !== undefined)
    view.dev = { ifindex, name, ...(rx === undefined ? {} : { rx_ifindex: rx }) };
  const inum = num(skb, 'netns');
  if (inum !== undefined) view.netns = { inum };

  const meta: Partial<SkbMeta> = {};
  for (const k of ['len', 'data_len', 'hash', 'ip_summed', 'csum', 'csum_level', 'priority', 'mark'] as const) {
    const v = num(skb, k);
    if (v !== undefined) meta[k] = v;
  }
  if (Object.keys(meta).length > 0) view.meta = meta;

  const dataRef: Partial<SkbDataRef> = {};
  const cloned = bool(skb, 'cloned');
  const nohdr = bool(skb, 'nohdr');
  if (cloned !== undefined) dataRef.cloned = cloned;
  if (nohdr !== undefined) dataRef.nohdr = nohdr;
  for (const k of ['fclone', 'users', 'dataref'] as const) {
    const v = num(skb, k);
    if (v !== undefined) dataRef[k] = v;
  }
  if (Object.keys(dataRef).length > 0) view.dataRef = dataRef;
  return view;
}

/** 1.5's nested sections, for an event read without the layout upgrade (legacy-layout.ts). */
function nestedView(skb: Obj, link: boolean): LegacySkbView {
  const view: LegacySkbView = {};
  const packet = skb['packet'];
  const raw = isObj(packet) ? (str(packet, 'packet') ?? str(packet, 'raw')) : undefined;
  if (raw !== undefined) view.packetLine = formatPacket(parsePacketBase64(raw), { link });
  else {
    const p = nestedHeadersPacket(skb);
    if (p) view.packetLine = formatPacket(p, { link });
  }
  const dev = skb['dev'];
  if (isObj(dev))
    view.dev = { ifindex: num(dev, 'ifindex'), name: str(dev, 'name'), rx_ifindex: num(dev, 'rx_ifindex') };
  const ns = skb['ns'];
  const inum = isObj(ns) ? num(ns, 'netns') : undefined;
  if (inum !== undefined) view.netns = { inum };
  return view;
}

function packetLine(s: Obj, link: boolean): string {
  const parts: string[] = [];
  const etype = num(s, 'etype');
  const src = str(s, 'src');
  const dst = str(s, 'dst');
  if (link && src !== undefined && dst !== undefined)
    parts.push(`${src} > ${dst}${etype === undefined ? '' : ` ethertype ${ethertypeName(etype)}`}`);

  const saddr = str(s, 'saddr');
  const daddr = str(s, 'daddr');
  const sport = num(s, 'sport');
  const dport = num(s, 'dport');
  if (saddr !== undefined && daddr !== undefined) {
    const a = sport === undefined ? saddr : `${saddr}.${sport}`;
    const b = dport === undefined ? daddr : `${daddr}.${dport}`;
    parts.push(`${a} > ${b}`);
  }
  for (const [key, label] of [
    ['ttl', 'ttl'],
    ['ip_ttl', 'ttl'],
    ['id', 'id'],
    ['ip_id', 'id'],
    ['l3_len', 'len'],
  ] as const) {
    const v = num(s, key);
    if (v !== undefined) parts.push(`${label} ${v}`);
  }
  const proto = num(s, 'protocol');
  if (proto !== undefined) parts.push(`proto ${ipProtoName(proto)}`);

  const flags = num(s, 'tcp_flags');
  if (flags !== undefined) {
    let t = `flags [${tcpFlagsText(flags)}]`;
    const seq = num(s, 'tcp_seq');
    const ack = num(s, 'tcp_ack_seq');
    const win = num(s, 'tcp_window');
    if (seq !== undefined) t += ` seq ${seq}`;
    if (ack !== undefined && flags & 0x10) t += ` ack ${ack}`;
    if (win !== undefined) t += ` win ${win}`;
    parts.push(t);
  }
  const udpLen = num(s, 'udp_len');
  if (udpLen !== undefined) parts.push(`len ${udpLen}`);
  const icmpType = num(s, 'icmp_type');
  // As retis prints an ICMP header today: its two numbers.
  if (icmpType !== undefined) parts.push(`type ${icmpType} code ${num(s, 'icmp_code') ?? 0}`);
  return parts.join(' ');
}
