// Ring buffer record -> Event (retis JSON shape). Runs inside the ring buffer callback, reading
// the record in place through a DataView; offsets come from the object's BTF (layout.ts).
import type { StructLayout } from '@retrace/ebpf-loader';
import type { Event, Skb } from '@retrace/events';
import type { DropReasons } from './drop-reasons.js';
import { Sec, baseRecordSize, partEnds, type RecordParts } from './layout.js';
import { checkPartRoom, checkRecord, cstr, recordOffsets, RecordError } from './record-header.js';

export { RecordError };

export interface ProbeIdentity {
  symbol: string;
  probeType: string;
  /** For USDT: the binary path. */
  path?: string;
}

export class RecordDecoder {
  private readonly o: Record<string, number>;
  private readonly header: { size: number; version: number; probeId: number };

  constructor(
    layout: StructLayout,
    private readonly probes: ProbeIdentity[],
    private readonly reasons: DropReasons,
    private readonly stack: (id: number) => string[] | undefined = () => undefined,
    /** skb sub-sections to report (--skb-sections): meta, dataref, gso (vlan_accel always). */
    private readonly skbSections: ReadonlySet<string> = new Set(['meta', 'dataref', 'gso']),
    /** Decoders of the optional parts whose collectors run. */
    private readonly parts: RecordParts = {},
  ) {
    this.o = recordOffsets(layout);
    this.ends = partEnds(layout);
    this.header = { size: baseRecordSize(layout), version: this.off('version'), probeId: this.off('probe_id') };
  }

  private readonly ends: ReturnType<typeof partEnds>;

  private off(name: string): number {
    const v = this.o[name];
    if (v === undefined) throw new RecordError(`record layout has no ${name}`);
    return v;
  }

  decode(view: DataView, buf: Buffer, at: number, len: number): Event {
    const probe = this.probes[checkRecord(view, at, len, this.header, this.probes.length)] as ProbeIdentity;
    const u8 = (f: string): number => view.getUint8(at + this.off(f));
    const u16 = (f: string): number => view.getUint16(at + this.off(f), true);
    const u32 = (f: string): number => view.getUint32(at + this.off(f), true);
    const u64 = (f: string): bigint => view.getBigUint64(at + this.off(f), true);
    const present = u32('present');
    const pid = u32('pid');
    const tgid = u32('tgid');
    const ev: Event = {
      common: {
        timestamp: u64('timestamp'),
        smp_id: u32('cpu'),
        task: { pid, tgid, comm: cstr(buf, at + this.off('comm'), 16) },
      },
    };
    if (present & Sec.USERSPACE) {
      ev.userspace = {
        probe_type: 'usdt',
        symbol: probe.symbol,
        ip: u64('ip'),
        path: probe.path ?? '',
        pid: tgid,
        tid: pid,
      };
      this.addOvs(ev, view, buf, at, len, present);
      return ev;
    }
    ev.kernel = { symbol: probe.symbol, probe_type: probe.probeType };
    if (present & Sec.STACK) {
      const frames = this.stack(view.getInt32(at + this.off('stack_id'), true));
      if (frames) ev.kernel.stack_trace = frames;
    }
    if (present & Sec.TRACKING)
      ev['skb-tracking'] = { orig_head: u64('orig_head'), timestamp: u64('track_ts'), skb: u64('skb') };
    if (present & Sec.DROP) {
      const r = this.reasons.name(u32('drop_reason'));
      ev['skb-drop'] = r.subsys ? { drop_reason: r.reason, subsys: r.subsys } : { drop_reason: r.reason };
    } else if (present & Sec.DROP_NO_REASON) {
      ev['skb-drop'] = { drop_reason: 'UNAVAILABLE', subsys: 'kernel without drop reasons (< 5.17)' };
    }
    if (present & Sec.PACKET) {
      const cap = u32('capture_len');
      const p = at + this.off('packet');
      ev.packet = { len: u32('pkt_len'), capture_len: cap, data: buf.toString('base64', p, p + cap) };
    }
    if (present & Sec.SKB) {
      const skb: Skb = {};
      if (this.skbSections.has('meta'))
        skb.meta = {
          len: u32('len'),
          data_len: u32('data_len'),
          hash: u32('hash'),
          ip_summed: u8('ip_summed'),
          csum: u32('csum'),
          csum_level: u8('csum_level'),
          priority: u32('priority'),
          mark: u32('mark'),
        };
      if (this.skbSections.has('dataref'))
        skb.data_ref = {
          nohdr: u8('nohdr') !== 0,
          cloned: u8('cloned') !== 0,
          fclone: u8('fclone'),
          users: u32('users'),
          dataref: u32('dataref'),
        };
      const gsoSize = u16('gso_size');
      if (this.skbSections.has('gso') && (gsoSize || u8('nr_frags')))
        skb.gso = { flags: 0, frags: u8('nr_frags'), segs: u16('gso_segs'), size: gsoSize, type: u32('gso_type') };
      if (present & Sec.VLAN) {
        const tci = u16('vlan_tci');
        skb.vlan_accel = { pcp: tci >> 13, dei: (tci >> 12) & 1, vid: tci & 0xfff };
      }
      ev.skb = skb;
    }
    if (present & Sec.DEV) {
      ev.dev = { name: cstr(buf, at + this.off('dev_name'), 16), ifindex: u32('ifindex') };
      if (present & Sec.RX_IFINDEX) ev.dev.rx_ifindex = u32('rx_ifindex');
    }
    if (present & Sec.NETNS) {
      ev.netns = { inum: u32('netns_inum') };
      if (present & Sec.NETNS_COOKIE) ev.netns.cookie = u64('netns_cookie');
    }
    if (present & Sec.CT && this.parts.ct) {
      checkPartRoom(len, this.ends.ct, 'ct');
      ev.ct = this.parts.ct.decode(view, buf, at + this.off('ct'), (present & Sec.CT_PARENT) !== 0);
    }
    if (present & Sec.NFT && this.parts.nft) {
      checkPartRoom(len, this.ends.nft, 'nft');
      ev.nft = this.parts.nft.decode(view, buf, at + this.off('nft'));
    }
    this.addOvs(ev, view, buf, at, len, present);
    return ev;
  }

  private addOvs(ev: Event, view: DataView, buf: Buffer, at: number, len: number, present: number): void {
    if (!(present & Sec.OVS && this.parts.ovs)) return;
    checkPartRoom(len, this.ends.ovs, 'ovs');
    ev.ovs = this.parts.ovs.decode(view, buf, at + this.off('ovs'));
  }
}
