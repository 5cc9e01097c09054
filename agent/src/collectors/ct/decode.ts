// The record's ct part (struct retrace_ct in bpf/collectors/ct.bpf.h) -> the Ct section. Offsets
// come from the object's BTF like the rest of the record; names of states and status bits are the
// kernel's UAPI values (linux/netfilter/nf_conntrack_common.h, nf_conntrack_tcp.h, ..._sctp.h).
import type { StructLayout } from '@retrace/ebpf-loader';
import { formatIpv4, formatIpv6, type Ct, type CtConn, type CtProto, type CtTuple } from '@retrace/events';
import { requireOffsets } from '../../decode/record-header.js';
import { RetraceCtFlags as CT_F } from '../../gen/probe-skeleton.js';

/** enum ip_conntrack_info -> Ct.state (retis's names: IP_CT_ESTABLISHED_REPLY is `reply`) */
const INFO_STATES: Record<number, string> = {
  0: 'established',
  1: 'related',
  2: 'new',
  3: 'reply',
  4: 'related_reply',
  7: 'untracked',
};

const TCP_STATES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];
const SCTP_STATES = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
];

/** Protocols retis has no variant for (CtProto.other's name). */
const OTHER_PROTOS: Record<number, string> = { 33: 'dccp', 47: 'gre', 136: 'udplite' };

const AF_INET = 2;

const EMPTY_TUPLE: CtTuple = { ip: { src: '', dst: '', version: 'v4' }, proto: { tcp: { sport: 0, dport: 0 } } };

/** retis's ZoneDir names. */
function zoneDir(dir: number, hasZones: boolean): string {
  if (!hasZones) return 'Default';
  switch (dir & 3) {
    case 1:
      return 'Original';
    case 2:
      return 'Reply';
    case 3:
      return 'Default';
    default:
      return 'None';
  }
}

interface Offsets {
  conn: number;
  parent: number;
  info: number;
  hasParent: number;
  /** retrace_ct_conn members */
  c: Record<string, number>;
  /** retrace_ct_tuple members */
  t: Record<string, number>;
}

export class CtDecoder {
  private readonly o: Offsets;

  constructor(ct: StructLayout, conn: StructLayout, tuple: StructLayout) {
    const top = requireOffsets(ct, ['conn', 'parent', 'info', 'has_parent']);
    this.o = {
      conn: top['conn'] as number,
      parent: top['parent'] as number,
      info: top['info'] as number,
      hasParent: top['has_parent'] as number,
      c: requireOffsets(conn, [
        'orig',
        'reply',
        'status',
        'mark',
        'sctp_vtag_orig',
        'sctp_vtag_reply',
        'zone_id',
        'zone_dir',
        'proto_state',
        'flags',
        'labels',
      ]),
      t: requireOffsets(tuple, ['src', 'dst', 'src_all', 'dst_all', 'l3num', 'protonum']),
    };
  }

  private tuple(view: DataView, buf: Buffer, at: number, vtag: number): CtTuple {
    const t = this.o.t;
    const l3 = view.getUint16(at + (t['l3num'] as number), true);
    const proto = view.getUint8(at + (t['protonum'] as number));
    const v4 = l3 === AF_INET;
    const addr = (off: number): string => (v4 ? formatIpv4(buf, at + off) : formatIpv6(buf, at + off));
    const srcAll = view.getUint16(at + (t['src_all'] as number), false);
    const dstAt = at + (t['dst_all'] as number);
    const ports = { sport: srcAll, dport: view.getUint16(dstAt, false) };
    let p: CtProto;
    if (proto === 6) p = { tcp: ports };
    else if (proto === 17) p = { udp: ports };
    else if (proto === 1 || proto === 58)
      p = { icmp: { code: view.getUint8(dstAt + 1), type: view.getUint8(dstAt), id: srcAll } };
    else if (proto === 132) p = { sctp: { ...ports, vtag } };
    else p = { other: { protonum: proto, name: OTHER_PROTOS[proto] ?? '' } };
    return {
      ip: { src: addr(t['src'] as number), dst: addr(t['dst'] as number), version: v4 ? 'v4' : 'v6' },
      proto: p,
    };
  }

  private conn(view: DataView, buf: Buffer, at: number): CtConn {
    const c = this.o.c;
    const u8 = (n: string): number => view.getUint8(at + (c[n] as number));
    const u32 = (n: string): number => view.getUint32(at + (c[n] as number), true);
    const flags = u8('flags');
    const proto = view.getUint8(at + (c['orig'] as number) + (this.o.t['protonum'] as number));
    const out: CtConn = {
      zone_id: view.getUint16(at + (c['zone_id'] as number), true),
      zone_dir: zoneDir(u8('zone_dir'), (flags & CT_F.ZONE) !== 0),
      orig: this.tuple(view, buf, at + (c['orig'] as number), u32('sctp_vtag_orig')),
      reply: this.tuple(view, buf, at + (c['reply'] as number), u32('sctp_vtag_reply')),
      // Status bits all fit in 32 bits (enum ip_conntrack_status).
      ct_status: BigInt(u32('status')),
    };
    const state = u8('proto_state');
    if (proto === 6) out.tcp_state = TCP_STATES[state] ?? String(state);
    else if (proto === 132) out.sctp_state = SCTP_STATES[state] ?? String(state);
    if (flags & CT_F.MARK) out.mark = u32('mark');
    if (flags & CT_F.LABELS) {
      const l = at + (c['labels'] as number);
      // Little-endian 128-bit bitmap (two unsigned longs): bit n is label n.
      const lo = view.getBigUint64(l, true);
      const hi = view.getBigUint64(l + 8, true);
      if (hi || lo) out.labels = { hi, lo };
    }
    return out;
  }

  /** The Ct section of a record whose ct part starts at `at`. */
  decode(view: DataView, buf: Buffer, at: number): Ct {
    const info = view.getUint8(at + this.o.info);
    const state = INFO_STATES[info] ?? `info_${info}`;
    const connAt = at + this.o.conn;
    if (view.getUint8(connAt + (this.o.c['flags'] as number)) & CT_F.UNTRACKED)
      // retis's readers need both tuples: its defaults (an empty TCP tuple).
      return { state: 'untracked', zone_id: 0, zone_dir: 'None', orig: EMPTY_TUPLE, reply: EMPTY_TUPLE, ct_status: 0n };
    const ct: Ct = { state, ...this.conn(view, buf, connAt) };
    if (view.getUint8(at + this.o.hasParent)) ct.parent = this.conn(view, buf, at + this.o.parent);
    return ct;
  }
}
