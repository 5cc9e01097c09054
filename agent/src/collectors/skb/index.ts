// skb: the sk_buff's metadata (lengths, checksum, hash, mark, references, GSO, VLAN) and the
// packet's first bytes. BPF: fill_skb and fill_packet (bpf/include/sections.bpf.h), fields of
// the base record.
import type { Skb } from '@retrace/events';
import { Sec } from '../../decode/layout.js';
import { requireOffsets } from '../../decode/record-header.js';
import { section, type RecordRef } from '../../decode/section.js';
import { defineCollector } from '../define.js';

export interface SkbOptions {
  /** skb sections to report (--skb-sections): meta, dataref, gso, packet; default all. */
  skbSections?: ReadonlySet<string>;
}

const ALL_SECTIONS: ReadonlySet<string> = new Set(['meta', 'dataref', 'gso', 'packet']);

const FIELDS = [
  'len',
  'data_len',
  'hash',
  'csum',
  'priority',
  'mark',
  'users',
  'dataref',
  'gso_type',
  'gso_size',
  'gso_segs',
  'vlan_tci',
  'vlan_proto',
  'ip_summed',
  'csum_level',
  'nohdr',
  'cloned',
  'fclone',
  'nr_frags',
  'pkt_len',
  'capture_len',
  'packet',
] as const;
type Field = (typeof FIELDS)[number];

export const skb = defineCollector({
  name: 'skb',
  globals: ({ options }) => ({ col_skb: true, col_packet: (options.skbSections ?? ALL_SECTIONS).has('packet') }),
  sections: ({ event }, options) => {
    const o = requireOffsets(event, FIELDS) as Record<Field, number>;
    const wanted = options.skbSections ?? ALL_SECTIONS;
    const [meta, dataref, gso] = [wanted.has('meta'), wanted.has('dataref'), wanted.has('gso')];
    const readers = (r: RecordRef) => ({
      u8: (f: Field): number => r.view.getUint8(r.at + o[f]),
      u16: (f: Field): number => r.view.getUint16(r.at + o[f], true),
      u32: (f: Field): number => r.view.getUint32(r.at + o[f], true),
    });
    return [
      section(
        'packet',
        (r) => {
          if (!(r.present & Sec.PACKET)) return undefined;
          const cap = r.view.getUint32(r.at + o.capture_len, true);
          const p = r.at + o.packet;
          return {
            len: r.view.getUint32(r.at + o.pkt_len, true),
            capture_len: cap,
            data: r.buf.toString('base64', p, p + cap),
          };
        },
        (r) => {
          if (!(r.present & Sec.PACKET)) return undefined;
          const cap = r.view.getUint32(r.at + o.capture_len, true);
          const p = r.at + o.packet;
          return `"packet":{"len":${r.view.getUint32(r.at + o.pkt_len, true)},"capture_len":${cap},"data":"${r.buf.toString('base64', p, p + cap)}"}`;
        },
      ),
      section(
        'skb',
        (r) => {
          if (!(r.present & Sec.SKB)) return undefined;
          const { u8, u16, u32 } = readers(r);
          const out: Skb = {};
          if (meta)
            out.meta = {
              len: u32('len'),
              data_len: u32('data_len'),
              hash: u32('hash'),
              ip_summed: u8('ip_summed'),
              csum: u32('csum'),
              csum_level: u8('csum_level'),
              priority: u32('priority'),
              mark: u32('mark'),
            };
          // users and dataref are u8 in retis's files (its BPF keeps the low byte): larger values,
          // like a shared info's dataref with its payload-reference half set, make retis refuse
          // the whole file.
          if (dataref)
            out.data_ref = {
              nohdr: u8('nohdr') !== 0,
              cloned: u8('cloned') !== 0,
              fclone: u8('fclone'),
              users: u32('users') & 0xff,
              dataref: u32('dataref') & 0xff,
            };
          const gsoSize = u16('gso_size');
          if (gso && (gsoSize || u8('nr_frags')))
            out.gso = { flags: 0, frags: u8('nr_frags'), segs: u16('gso_segs'), size: gsoSize, type: u32('gso_type') };
          if (r.present & Sec.VLAN) {
            const tci = u16('vlan_tci');
            out.vlan_accel = {
              proto: u16('vlan_proto'),
              pcp: tci >> 13,
              dei: ((tci >> 12) & 1) === 1,
              vid: tci & 0xfff,
            };
          }
          return out;
        },
        (r) => {
          if (!(r.present & Sec.SKB)) return undefined;
          const { u8, u16, u32 } = readers(r);
          const parts: string[] = [];
          if (r.present & Sec.VLAN) {
            const tci = u16('vlan_tci');
            parts.push(
              `"vlan_accel":{"proto":${u16('vlan_proto')},"pcp":${tci >> 13},"dei":${((tci >> 12) & 1) === 1},"vid":${tci & 0xfff}}`,
            );
          }
          if (meta)
            parts.push(
              `"meta":{"len":${u32('len')},"data_len":${u32('data_len')},"hash":${u32('hash')},"ip_summed":${u8('ip_summed')},"csum":${u32('csum')},"csum_level":${u8('csum_level')},"priority":${u32('priority')},"mark":${u32('mark')}}`,
            );
          if (dataref)
            parts.push(
              `"data_ref":{"nohdr":${u8('nohdr') !== 0},"cloned":${u8('cloned') !== 0},"fclone":${u8('fclone')},"users":${u32('users') & 0xff},"dataref":${u32('dataref') & 0xff}}`,
            );
          const gsoSize = u16('gso_size');
          if (gso && (gsoSize || u8('nr_frags')))
            parts.push(
              `"gso":{"flags":0,"frags":${u8('nr_frags')},"segs":${u16('gso_segs')},"size":${gsoSize},"type":${u32('gso_type')}}`,
            );
          return `"skb":{${parts.join(',')}}`;
        },
      ),
    ];
  },
});
