// The ct line, as retis prints its ct section (retis-events ct.rs):
// `ct_state NEW status 0x8 icmp orig [a > b type 8 code 0 id 1] reply [b > a type 0 code 0 id 1] zone 0 mark 0`
// and, for a related entry, ` parent [status ... ]` (on a `\` continuation line in multi-line
// output). SCTP and other protocols are retrace's own (retis reports no entry for them) and print
// in the same shape.
import type { Ct, CtConn, CtTuple } from './gen/event.js';

const STATES: Record<string, string> = {
  established: 'ESTABLISHED',
  related: 'RELATED',
  new: 'NEW',
  reply: 'REPLY',
  related_reply: 'RELATED_REPLY',
  untracked: 'UNTRACKED',
};

const ZONES: Record<string, string> = { Original: 'orig-zone', Reply: 'reply-zone', Default: 'zone' };

const def = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;

function addrs(t: CtTuple | undefined): [string, string] {
  return [t?.ip?.src ?? '?', t?.ip?.dst ?? '?'];
}

/** `a.1 > b.2` (ports) or `a > b` */
function ported(t: CtTuple | undefined, p: { sport: number; dport: number } | undefined): string {
  const [s, d] = addrs(t);
  return p ? `${s}.${p.sport} > ${d}.${p.dport}` : `${s} > ${d}`;
}

// The protocol part, from the orig and reply tuples; retis prints nothing when the two differ.
function protoText(c: Partial<CtConn>): string {
  const o = c.orig?.proto;
  const r = c.reply?.proto;
  if (o?.tcp && r?.tcp)
    return `tcp (${c.tcp_state ?? 'UNKNOWN'}) orig [${ported(c.orig, o.tcp)}] reply [${ported(c.reply, r.tcp)}] `;
  if (o?.udp && r?.udp) return `udp orig [${ported(c.orig, o.udp)}] reply [${ported(c.reply, r.udp)}] `;
  if (o?.icmp && r?.icmp) {
    const icmp = (t: CtTuple | undefined, i: { type: number; code: number; id: number }): string =>
      `${ported(t, undefined)} type ${i.type} code ${i.code} id ${i.id}`;
    return `icmp orig [${icmp(c.orig, o.icmp)}] reply [${icmp(c.reply, r.icmp)}] `;
  }
  if (o?.sctp && r?.sctp) {
    const sctp = (t: CtTuple | undefined, s: { sport: number; dport: number; vtag: number }): string =>
      `${ported(t, s)} vtag 0x${s.vtag.toString(16)}`;
    return `sctp (${c.sctp_state ?? 'UNKNOWN'}) orig [${sctp(c.orig, o.sctp)}] reply [${sctp(c.reply, r.sctp)}] `;
  }
  if (o?.other && r?.other)
    return `${o.other.name || `proto ${o.other.protonum}`} orig [${ported(c.orig, undefined)}] reply [${ported(c.reply, undefined)}] `;
  return '';
}

function labelsHex(l: { hi: bigint; lo: bigint }): string {
  return `0x${((BigInt(l.hi) << 64n) | BigInt(l.lo)).toString(16)}`;
}

/** One connection: `status 0x.. <proto part> zone N mark M labels 0x..` */
export function ctConnText(c: Partial<CtConn>): string {
  let s = `status 0x${BigInt(c.ct_status ?? 0).toString(16)} ${protoText(c)}`;
  const zone = ZONES[c.zone_dir ?? ''];
  if (zone) s += `${zone} ${c.zone_id ?? 0}`;
  if (def(c.mark)) s += ` mark ${c.mark}`;
  if (c.labels) s += ` labels ${labelsHex(c.labels)}`;
  return s;
}

/** The ct section's text; `multiline` puts the parent on a continuation line starting with `\`. */
export function ctText(c: Partial<Ct>, multiline: boolean): string {
  // An untracked packet has no entry: retis's empty tuples would print as `.0 > .0`.
  if (c.state === 'untracked') return 'ct_state UNTRACKED';
  let s = `ct_state ${STATES[c.state ?? ''] ?? (c.state ?? '?').toUpperCase()} ${ctConnText(c)}`;
  if (c.parent) s += `${multiline ? '\n\\' : ''} parent [${ctConnText(c.parent)}]`;
  return s;
}
