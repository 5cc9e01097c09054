// Record -> JSON line directly, for `collect -o FILE` without printing: no Event object, no
// generic serializer. It must write exactly what stringifyEvent(RecordDecoder.decode(...))
// writes (same fields, same order); a test compares the two on live records.
import type { StructLayout } from '@retrace/ebpf-loader';
import type { DropReasons } from './drop-reasons.js';
import { integerJson, writeMessageJson } from '@retrace/events';
import { Sec, baseRecordSize, partEnds, type RecordParts } from './layout.js';
import type { ProbeIdentity } from './record.js';
import { checkPartRoom, checkRecord, cstr, recordOffsets } from './record-header.js';

export class RecordJsonWriter {
  private readonly at: Record<string, number>;
  private readonly header: { size: number; version: number; probeId: number };
  /** Per probe: the constant `"kernel":{"symbol":..,"probe_type":..` prefix. */
  private readonly kernelPrefix: string[];
  private readonly ends: ReturnType<typeof partEnds>;

  constructor(
    layout: StructLayout,
    private readonly probes: ProbeIdentity[],
    private readonly reasons: DropReasons,
    private readonly stack: (id: number) => string[] | undefined,
    private readonly skbSections: ReadonlySet<string>,
    /** Decoders of the optional parts whose collectors run. */
    private readonly parts: RecordParts = {},
  ) {
    this.at = recordOffsets(layout);
    this.ends = partEnds(layout);
    this.header = {
      size: baseRecordSize(layout),
      version: this.at['version'] ?? 0,
      probeId: this.at['probe_id'] ?? 0,
    };
    this.kernelPrefix = probes.map(
      (p) => `"kernel":{"symbol":${JSON.stringify(p.symbol)},"probe_type":${JSON.stringify(p.probeType)}`,
    );
  }

  /** Undefined for records this fast path does not cover (USDT): use the decoder for those. */
  json(view: DataView, buf: Buffer, base: number, len: number): string | undefined {
    const o = this.at;
    const f = (name: string): number => base + (o[name] as number);
    const prefix = this.kernelPrefix[checkRecord(view, base, len, this.header, this.kernelPrefix.length)] as string;
    const present = view.getUint32(f('present'), true);
    if (present & Sec.USERSPACE) return undefined;
    const u32 = (n: string): number => view.getUint32(f(n), true);
    const u16 = (n: string): number => view.getUint16(f(n), true);
    const u8 = (n: string): number => view.getUint8(f(n));
    const u64 = (n: string): string => integerJson(view.getBigUint64(f(n), true));

    let s = `{"common":{"timestamp":${u64('timestamp')},"smp_id":${u32('cpu')},"task":{"pid":${u32('pid')},"tgid":${u32('tgid')},"comm":${JSON.stringify(cstr(buf, f('comm'), 16))}}},${prefix}`;
    if (present & Sec.STACK) {
      const frames = this.stack(view.getInt32(f('stack_id'), true));
      if (frames) s += `,"stack_trace":${JSON.stringify(frames)}`;
    }
    s += '}';
    if (present & Sec.TRACKING)
      s += `,"skb-tracking":{"orig_head":${u64('orig_head')},"timestamp":${u64('track_ts')},"skb":${u64('skb')}}`;
    if (present & Sec.DROP) {
      const r = this.reasons.name(u32('drop_reason'));
      s += `,"skb-drop":{"drop_reason":${JSON.stringify(r.reason)}${r.subsys ? `,"subsys":${JSON.stringify(r.subsys)}` : ''}}`;
    } else if (present & Sec.DROP_NO_REASON) {
      s += ',"skb-drop":{"drop_reason":"UNAVAILABLE","subsys":"kernel without drop reasons (< 5.17)"}';
    }
    if (present & Sec.PACKET) {
      const cap = u32('capture_len');
      const p = f('packet');
      s += `,"packet":{"len":${u32('pkt_len')},"capture_len":${cap},"data":"${buf.toString('base64', p, p + cap)}"}`;
    }
    if (present & Sec.SKB) {
      const parts: string[] = [];
      if (present & Sec.VLAN) {
        const tci = u16('vlan_tci');
        parts.push(`"vlan_accel":{"pcp":${tci >> 13},"dei":${(tci >> 12) & 1},"vid":${tci & 0xfff}}`);
      }
      if (this.skbSections.has('meta'))
        parts.push(
          `"meta":{"len":${u32('len')},"data_len":${u32('data_len')},"hash":${u32('hash')},"ip_summed":${u8('ip_summed')},"csum":${u32('csum')},"csum_level":${u8('csum_level')},"priority":${u32('priority')},"mark":${u32('mark')}}`,
        );
      if (this.skbSections.has('dataref'))
        parts.push(
          `"data_ref":{"nohdr":${u8('nohdr') !== 0},"cloned":${u8('cloned') !== 0},"fclone":${u8('fclone')},"users":${u32('users')},"dataref":${u32('dataref')}}`,
        );
      const gsoSize = u16('gso_size');
      if (this.skbSections.has('gso') && (gsoSize || u8('nr_frags')))
        parts.push(
          `"gso":{"flags":0,"frags":${u8('nr_frags')},"segs":${u16('gso_segs')},"size":${gsoSize},"type":${u32('gso_type')}}`,
        );
      s += `,"skb":{${parts.join(',')}}`;
    }
    if (present & Sec.DEV)
      s += `,"dev":{"name":${JSON.stringify(cstr(buf, f('dev_name'), 16))},"ifindex":${u32('ifindex')}${present & Sec.RX_IFINDEX ? `,"rx_ifindex":${u32('rx_ifindex')}` : ''}}`;
    if (present & Sec.NETNS)
      s += `,"netns":{${present & Sec.NETNS_COOKIE ? `"cookie":${u64('netns_cookie')},` : ''}"inum":${u32('netns_inum')}}`;
    if (present & Sec.CT && this.parts.ct) {
      checkPartRoom(len, this.ends.ct, 'ct');
      s += `,"ct":${writeMessageJson('Ct', this.parts.ct.decode(view, buf, f('ct'), (present & Sec.CT_PARENT) !== 0))}`;
    }
    if (present & Sec.NFT && this.parts.nft) {
      checkPartRoom(len, this.ends.nft, 'nft');
      s += `,"nft":${writeMessageJson('Nft', this.parts.nft.decode(view, buf, f('nft')))}`;
    }
    if (present & Sec.OVS && this.parts.ovs) {
      checkPartRoom(len, this.ends.ovs, 'ovs');
      s += `,"ovs":${writeMessageJson('Ovs', this.parts.ovs.decode(view, buf, f('ovs')))}`;
    }
    return `${s}}`;
  }
}
