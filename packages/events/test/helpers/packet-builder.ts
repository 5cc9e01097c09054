// Builds packet bytes field by field for parser tests (lengths are computed, checksums left 0).

export type Bytes = number[];

const be16 = (n: number): Bytes => [(n >> 8) & 0xff, n & 0xff];
const be32 = (n: number): Bytes => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

export const mac = (s: string): Bytes => s.split(':').map((h) => parseInt(h, 16));
export const ip4 = (s: string): Bytes => s.split('.').map(Number);

/** 16 bytes of an IPv6 address in text form (with at most one `::`). */
export function ip6(s: string): Bytes {
  const [head = '', tail] = s.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap(be16);
}

export interface Tag {
  tpid?: number;
  vid: number;
  pcp?: number;
  dei?: boolean;
}

export function ether(o: { dst?: string; src?: string; type: number; tags?: Tag[] }, payload: Bytes): Bytes {
  const tags = o.tags ?? [];
  const out = [...mac(o.dst ?? '02:00:00:00:00:02'), ...mac(o.src ?? '02:00:00:00:00:01')];
  for (const t of tags)
    out.push(...be16(t.tpid ?? 0x8100), ...be16(((t.pcp ?? 0) << 13) | (t.dei ? 0x1000 : 0) | t.vid));
  return [...out, ...be16(o.type), ...payload];
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** In bytes (a multiple of 8). */
  fragOffset?: number;
  options?: Bytes;
}

export function ipv4(o: Ipv4Opts, payload: Bytes): Bytes {
  const options = o.options ?? [];
  const hl = 20 + options.length;
  const frag = (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  return [
    0x40 | (hl / 4),
    o.tos ?? 0,
    ...be16(hl + payload.length),
    ...be16(o.id ?? 0),
    ...be16(frag),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...ip4(o.src),
    ...ip4(o.dst),
    ...options,
    ...payload,
  ];
}

export function ipv6(
  o: { src: string; dst: string; next: number; hlim?: number; tc?: number; flow?: number },
  payload: Bytes,
): Bytes {
  const w0 = (6 << 28) | ((o.tc ?? 0) << 20) | (o.flow ?? 0);
  return [...be32(w0 >>> 0), ...be16(payload.length), o.next, o.hlim ?? 64, ...ip6(o.src), ...ip6(o.dst), ...payload];
}

/** Hop-by-hop / destination options / routing header: `body` padded to a multiple of 8. */
export function extHeader(next: number, body: Bytes, payload: Bytes): Bytes {
  const total = Math.ceil((body.length + 2) / 8) * 8;
  const padded = [...body, ...new Array<number>(total - 2 - body.length).fill(0)];
  return [next, total / 8 - 1, ...padded, ...payload];
}

export function routingHeader(next: number, type: number, segleft: number, addrs: string[], payload: Bytes): Bytes {
  return extHeader(next, [type, segleft, 0, 0, 0, 0, ...addrs.flatMap(ip6)], payload);
}

export function fragHeader(next: number, offset: number, more: boolean, id: number, payload: Bytes): Bytes {
  return [next, 0, ...be16(offset | (more ? 1 : 0)), ...be32(id), ...payload];
}

export function ahHeader(next: number, spi: number, seq: number, payload: Bytes): Bytes {
  const icv = new Array<number>(12).fill(0xaa);
  return [next, (12 + icv.length) / 4 - 2, 0, 0, ...be32(spi), ...be32(seq), ...icv, ...payload];
}

export function tcp(
  o: { sport: number; dport: number; seq?: number; ack?: number; flags: number; win?: number; options?: Bytes },
  payload: Bytes = [],
): Bytes {
  const options = o.options ?? [];
  const hl = 20 + options.length;
  return [
    ...be16(o.sport),
    ...be16(o.dport),
    ...be32(o.seq ?? 0),
    ...be32(o.ack ?? 0),
    ((hl / 4) << 4) | ((o.flags >> 8) & 1),
    o.flags & 0xff,
    ...be16(o.win ?? 0),
    0,
    0,
    0,
    0,
    ...options,
    ...payload,
  ];
}

export function udp(sport: number, dport: number, payload: Bytes = []): Bytes {
  return [...be16(sport), ...be16(dport), ...be16(8 + payload.length), 0, 0, ...payload];
}

export function icmpEcho(type: number, id: number, seq: number, data: Bytes = []): Bytes {
  return [type, 0, 0, 0, ...be16(id), ...be16(seq), ...data];
}

export function vxlan(vni: number, inner: Bytes): Bytes {
  return [0x08, 0, 0, 0, ...be32(vni << 8), ...inner];
}

export function geneve(vni: number, protocol: number, options: Bytes, inner: Bytes): Bytes {
  return [options.length / 4, 0, ...be16(protocol), ...be32(vni << 8), ...options, ...inner];
}

export const buf = (b: Bytes): Buffer => Buffer.from(b);
