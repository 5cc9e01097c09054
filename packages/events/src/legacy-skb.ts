// Older retis files (up to v1.6) have a flat `skb` section (saddr, daddr, sport, dev_name, ...)
// instead of a `packet` with the raw bytes. We show whatever of it is there, reading every field
// defensively: these files have no schema we can rely on.
import type { Dev, Netns, SkbDataRef, SkbMeta } from './gen/event.js';
import { ethertypeName, icmpTypeName, ipProtoName } from './protocols.js';
import { tcpFlagsText } from './packet-format.js';

/** What the flat section tells, in the shapes of today's sections. */
export interface LegacySkbView {
  packetLine?: string;
  dev?: Partial<Dev>;
  netns?: Partial<Netns>;
  meta?: Partial<SkbMeta>;
  dataRef?: Partial<SkbDataRef>;
}

type Obj = Record<string, unknown>;

const LEGACY_KEYS = ['saddr', 'daddr', 'etype', 'dev_name', 'ifindex', 'netns', 'protocol', 'users', 'src', 'dst'];

const num = (o: Obj, k: string): number | undefined => {
  const v = o[k];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
};
const str = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
const bool = (o: Obj, k: string): boolean | undefined => (typeof o[k] === 'boolean' ? (o[k] as boolean) : undefined);

/** True when an `skb` section has the old flat shape. */
export function isLegacySkb(skb: unknown): skb is Obj {
  return typeof skb === 'object' && skb !== null && LEGACY_KEYS.some((k) => k in skb);
}

export function legacySkbView(skb: unknown, link: boolean): LegacySkbView | undefined {
  if (!isLegacySkb(skb)) return undefined;
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
    if (ack !== undefined && flags & 0x10) t += `, ack ${ack}`;
    if (win !== undefined) t += `, win ${win}`;
    parts.push(t);
  }
  const udpLen = num(s, 'udp_len');
  if (udpLen !== undefined) parts.push(`len ${udpLen}`);
  const icmpType = num(s, 'icmp_type');
  if (icmpType !== undefined) {
    const v6 = proto === 58;
    const name = icmpTypeName(icmpType, v6);
    const code = num(s, 'icmp_code') ?? 0;
    const label = v6 ? 'ICMP6' : 'ICMP';
    parts.push(name === undefined ? `${label} type ${icmpType} code ${code}` : `${label} ${name}`);
  }
  return parts.join(' ');
}
