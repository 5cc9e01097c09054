// The skb line, as retis prints its skb section (retis-events skb.rs): the accelerated VLAN tag
// (with -e only), `skb [...]` (metadata, then data and reference counts) and `gso [...]`, on one
// line. `mark` is retrace's own (after the fields retis has).
import type { SkbDataRef, SkbGso, SkbMeta, VlanAccel } from './gen/event.js';

const def = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;
const hex = (n: number): string => `0x${n.toString(16)}`;

/** retis's names of the ethertypes a VLAN tag may carry. */
const VLAN_ETHERTYPES: Record<number, string> = { 0x8100: '802.1Q', 0x88a8: '802.1Q QinQ' };

function vlanText(v: Partial<VlanAccel>): string {
  const proto = v.proto ?? 0;
  const name = VLAN_ETHERTYPES[proto];
  const etype = `ethertype ${name ? `${name} ` : ''}(0x${proto.toString(16).padStart(4, '0')})`;
  return `vlan_accel (${etype} vlan ${v.vid ?? 0} p ${v.pcp ?? 0}${v.dei ? ' DEI' : ''})`;
}

function csumText(m: Partial<SkbMeta>): string {
  const csum = m.csum ?? 0;
  switch (m.ip_summed ?? 0) {
    case 0:
      return 'csum none';
    case 1:
      return `csum unnecessary (level ${m.csum_level ?? 0})`;
    case 2:
      return `csum complete (${hex(csum)})`;
    case 3:
      return `csum partial (start ${csum & 0xffff} off ${csum >>> 16})`;
    default:
      return `csum unknown (${m.ip_summed})`;
  }
}

function metaText(m: Partial<SkbMeta>): string {
  const parts = [csumText(m)];
  if (m.hash) parts.push(`hash ${hex(m.hash)}`);
  parts.push(`len ${m.len ?? 0}`);
  if (m.data_len) parts.push(`data_len ${m.data_len}`);
  parts.push(`priority ${m.priority ?? 0}`);
  if (def(m.mark)) parts.push(`mark ${hex(m.mark)}`);
  return parts.join(' ');
}

function dataRefText(r: Partial<SkbDataRef>): string {
  const parts: string[] = [];
  if (r.nohdr) parts.push('nohdr');
  if (r.cloned) parts.push('cloned');
  if (r.fclone) parts.push(`fclone ${r.fclone}`);
  parts.push(`users ${r.users ?? 0} dataref ${r.dataref ?? 0}`);
  return parts.join(' ');
}

function gsoText(g: Partial<SkbGso>): string {
  const parts = [`type ${hex(g.type ?? 0)}`];
  if (g.flags) parts.push(`flags ${hex(g.flags)}`);
  if (g.frags) parts.push(`frags ${g.frags}`);
  if (g.segs) parts.push(`segs ${g.segs}`);
  parts.push(`size ${g.size ?? 0}`);
  return `gso [${parts.join(' ')}]`;
}

export interface SkbParts {
  vlan?: Partial<VlanAccel> | undefined;
  meta?: Partial<SkbMeta> | undefined;
  dataRef?: Partial<SkbDataRef> | undefined;
  gso?: Partial<SkbGso> | undefined;
}

/** The skb line; `link` (-e) shows the VLAN tag. Undefined when there is nothing to show. */
export function skbText(s: SkbParts, link: boolean): string | undefined {
  const parts: string[] = [];
  if (link && s.vlan) parts.push(vlanText(s.vlan));
  if (s.meta || s.dataRef)
    parts.push(`skb [${[s.meta && metaText(s.meta), s.dataRef && dataRefText(s.dataRef)].filter(Boolean).join(' ')}]`);
  if (s.gso) parts.push(gsoText(s.gso));
  return parts.length > 0 ? parts.join(' ') : undefined;
}
