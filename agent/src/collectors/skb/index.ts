// skb: the sk_buff's metadata (lengths, checksum, hash, mark, references, GSO, VLAN) and the
// packet's first bytes. BPF: fill_skb and fill_packet (bpf/include/sections.bpf.h), fields of
// the base record.
import type { Skb } from '@retrace/events';
import { Sec } from '../../decode/layout.js';
import type { Field, JsonTemplate } from '../../decode/json-template.js';
import { requireFields, requireOffsets } from '../../decode/record-header.js';
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
type FieldName = (typeof FIELDS)[number];

export const skb = defineCollector({
  name: 'skb',
  globals: ({ options }) => ({ col_skb: true, col_packet: (options.skbSections ?? ALL_SECTIONS).has('packet') }),
  sections: ({ event }, options) => {
    const o = requireOffsets(event, FIELDS) as Record<FieldName, number>;
    const f = requireFields(event, FIELDS);
    const wanted = options.skbSections ?? ALL_SECTIONS;
    const [meta, dataref, gso] = [wanted.has('meta'), wanted.has('dataref'), wanted.has('gso')];
    const readers = (r: RecordRef) => ({
      u8: (f: FieldName): number => r.view.getUint8(r.at + o[f]),
      u16: (f: FieldName): number => r.view.getUint16(r.at + o[f], true),
      u32: (f: FieldName): number => r.view.getUint32(r.at + o[f], true),
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
        (t) =>
          t.ifPresent(Sec.PACKET, (t) =>
            t
              .lit(',"packet":{"len":')
              .num(f.pkt_len)
              .lit(',"capture_len":')
              .num(f.capture_len)
              .lit(',"data":"')
              .base64(f.capture_len, f.packet.off, f.packet.size)
              .lit('"}'),
          ),
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
        (t) => t.ifPresent(Sec.SKB, (t) => skbJson(t.lit(',"skb":{'), f, { meta, dataref, gso }).lit('}')),
      ),
    ];
  },
});

/**
 * The skb section's members in retis's order, each after a comma but the first written: the
 * VLAN one is there or not per record, so what follows it is written once for each case.
 */
function skbJson(
  t: JsonTemplate,
  f: Record<FieldName, Field>,
  wanted: { meta: boolean; dataref: boolean; gso: boolean },
): JsonTemplate {
  const rest = (t: JsonTemplate, afterVlan: boolean): void => {
    let comma = afterVlan;
    const sep = (): string => {
      const s = comma ? ',' : '';
      comma = true;
      return s;
    };
    if (wanted.meta)
      t.lit(`${sep()}"meta":{"len":`)
        .num(f.len)
        .lit(',"data_len":')
        .num(f.data_len)
        .lit(',"hash":')
        .num(f.hash)
        .lit(',"ip_summed":')
        .num(f.ip_summed)
        .lit(',"csum":')
        .num(f.csum)
        .lit(',"csum_level":')
        .num(f.csum_level)
        .lit(',"priority":')
        .num(f.priority)
        .lit(',"mark":')
        .num(f.mark)
        .lit('}');
    // users and dataref: their low byte, as in the decoder.
    if (wanted.dataref)
      t.lit(`${sep()}"data_ref":{"nohdr":`)
        .bool(f.nohdr)
        .lit(',"cloned":')
        .bool(f.cloned)
        .lit(',"fclone":')
        .num(f.fclone)
        .lit(',"users":')
        .num(f.users, 0, 0xff)
        .lit(',"dataref":')
        .num(f.dataref, 0, 0xff)
        .lit('}');
    if (!wanted.gso) return;
    const head = `${sep()}"gso":{"flags":0,"frags":`;
    const gso = (t: JsonTemplate): void =>
      void t
        .lit(head)
        .num(f.nr_frags)
        .lit(',"segs":')
        .num(f.gso_segs)
        .lit(',"size":')
        .num(f.gso_size)
        .lit(',"type":')
        .num(f.gso_type)
        .lit('}');
    t.ifAny(f.gso_size, 0xffff, gso, (t) => t.ifAny(f.nr_frags, 0xff, gso));
  };
  return t.ifPresent(
    Sec.VLAN,
    (t) => {
      t.lit('"vlan_accel":{"proto":')
        .num(f.vlan_proto)
        .lit(',"pcp":')
        .num(f.vlan_tci, 13)
        .lit(',"dei":')
        .bool(f.vlan_tci, 12, 1)
        .lit(',"vid":')
        .num(f.vlan_tci, 0, 0xfff)
        .lit('}');
      rest(t, true);
    },
    (t) => rest(t, false),
  );
}
