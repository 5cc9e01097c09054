// The text of each event section after the header line (retis's order and wording). Sections
// come from files of many versions: every field is treated as possibly missing.
import type { Dev, Event, K8s, Lost, Netns, Nft, Startup } from './gen/event.js';
import { FIELDS } from './descriptors.js';
import { ctText } from './format-ct.js';
import { skbText } from './format-skb.js';
import { legacySkbView } from './legacy-skb.js';
import { formatPacket } from './packet-format.js';
import { eventPacket } from './packet.js';

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const def = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;

/**
 * Section lines of an event, in display order, without indentation. A section may span lines
 * (`\n` inside, e.g. ct's parent) when `multiline`.
 */
export function sectionLines(ev: Event, link: boolean, multiline = true): string[] {
  const legacy = legacySkbView(ev.skb, link);
  const lines: (string | undefined)[] = [
    packetLine(ev, link) ?? legacy?.packetLine,
    nsDevLine(ev.netns ?? legacy?.netns, ev.dev ?? legacy?.dev, ev.k8s),
    skbText(
      {
        vlan: ev.skb?.vlan_accel,
        meta: ev.skb?.meta ?? legacy?.meta,
        dataRef: ev.skb?.data_ref ?? legacy?.dataRef,
        gso: ev.skb?.gso,
      },
      link,
    ),
    ev.ovs ? ovsLine(ev.ovs as unknown as Record<string, unknown>) : undefined,
    ev.nft ? nftLine(ev.nft) : undefined,
    ev.ct ? ctText(ev.ct, multiline) : undefined,
    ev.lost ? lostLine(ev.lost) : undefined,
    ev.startup ? startupLine(ev.startup) : undefined,
    ...OTHER_SECTIONS.map((key) => otherLine(key, (ev as Record<string, unknown>)[key])),
  ];
  return lines.filter((l): l is string => l !== undefined && l !== '');
}

/** Sections shown above, in the header line (formatHeader) or not at all. */
const SHOWN: ReadonlySet<string> = new Set([
  'common',
  'kernel',
  'userspace',
  'skb-tracking',
  'skb-drop',
  'packet',
  'skb',
  'dev',
  'netns',
  'ct',
  'nft',
  'ovs',
  'startup',
  'tracking',
  'lost',
  'k8s',
  'journey',
]);
/** The schema's other sections (a collector's that has no line of its own yet): shown generically. */
const OTHER_SECTIONS = (FIELDS['Event'] ?? []).map((f) => f.json).filter((k) => !SHOWN.has(k));

/** Any value as text: objects as JSON, 64-bit integers in full. */
function text(v: unknown): string {
  return typeof v === 'object'
    ? JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))
    : String(v);
}

/** `name field value field value ...` */
function otherLine(name: string, v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return v === undefined || v === null ? undefined : `${name} ${text(v)}`;
  const parts = [name];
  for (const [k, x] of Object.entries(v)) if (x !== undefined && x !== null) parts.push(`${k} ${text(x)}`);
  return parts.join(' ');
}

function packetLine(ev: Event, link: boolean): string | undefined {
  const p = eventPacket(ev);
  return p ? formatPacket(p, { link }) : undefined;
}

function nsDevLine(
  ns: Partial<Netns> | undefined,
  dev: Partial<Dev> | undefined,
  k8s: Partial<K8s> | undefined,
): string | undefined {
  const parts: string[] = [];
  if (ns && def(ns.inum)) parts.push(def(ns.cookie) ? `ns ${hex(ns.cookie)}/${ns.inum}` : `ns ${ns.inum}`);
  if (dev) {
    if (def(dev.ifindex)) parts.push(def(dev.name) ? `if ${dev.ifindex} (${dev.name})` : `if ${dev.ifindex}`);
    else if (def(dev.name)) parts.push(`if (${dev.name})`);
    if (def(dev.rx_ifindex)) parts.push(`rxif ${dev.rx_ifindex}`);
  }
  // The pod the agent mapped the namespace to (cluster traces).
  if (k8s?.pod) parts.push(`pod ${k8s.namespace ? `${k8s.namespace}/` : ''}${k8s.pod}`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

// The OVS line: known fields in a fixed order, then any other field there is (OVS sections
// differ between retis versions).
const OVS_SHOWN: ReadonlySet<string> = new Set([
  'event_type',
  'cmd',
  'type',
  'action',
  'op_type',
  'port',
  'cpu',
  'in_port',
  'recirc_id',
  'pkt_size',
  'key_size',
  'ret',
  'queue_id',
  'ufid',
  'batch_ts',
  'batch_idx',
  'upcall_ts',
  'upcall_cpu',
  'dp_name',
]);
const UPCALL_KINDS = ['?', 'miss', 'action'];

function ovsLine(o: Record<string, unknown>): string {
  const has = (k: string): boolean => o[k] !== undefined && o[k] !== null;
  const type = String(o['event_type'] ?? '?');
  const parts = [`ovs ${type}`];
  const add = (k: string, label = k, fmt: (v: unknown) => string = text): void => {
    if (has(k)) parts.push(label ? `${label} ${fmt(o[k])}` : fmt(o[k]));
  };
  // upcall: OVS_PACKET_CMD_* (1 miss, 2 action); recv_upcall: DPIF_UC_* (0 miss, 1 action)
  if (has('cmd')) parts.push(UPCALL_KINDS[Number(o['cmd'])] ?? `cmd ${text(o['cmd'])}`);
  if (has('type')) parts.push(UPCALL_KINDS[Number(o['type']) + 1] ?? `type ${text(o['type'])}`);
  add('action', '');
  add('op_type', '');
  add('port', type === 'action_execute' ? '' : 'port');
  add('cpu');
  add('in_port');
  add('recirc_id', 'recirc', (v) => `0x${Number(v).toString(16)}`);
  add('pkt_size', 'pkt', (v) => `${text(v)}B`);
  add('key_size', 'key', (v) => `${text(v)}B`);
  add('ret');
  add('queue_id', 'q', (v) => `0x${Number(v).toString(16).padStart(8, '0')}`);
  add('ufid');
  if (has('batch_ts')) parts.push(`batch ${text(o['batch_ts'])}#${text(o['batch_idx'] ?? '?')}`);
  if (has('upcall_ts')) parts.push(`(upcall ${text(o['upcall_ts'])} cpu ${text(o['upcall_cpu'] ?? '?')})`);
  add('dp_name', 'dp');
  for (const [k, v] of Object.entries(o))
    if (!OVS_SHOWN.has(k) && v !== undefined && v !== null) parts.push(`${k} ${text(v)}`);
  return parts.join(' ');
}

function nftLine(n: Partial<Nft>): string {
  const parts = [`table ${n.family ? `${n.family} ` : ''}${n.table_name ?? '?'}`, `chain ${n.chain_name ?? '?'}`];
  if (def(n.rule_handle)) parts.push(`handle ${n.rule_handle}`);
  parts.push(`verdict ${n.verdict ?? '?'}`);
  if (def(n.verdict_chain_name)) parts.push(`to ${n.verdict_chain_name}`);
  if (n.policy) parts.push('(policy)');
  return parts.join(' ');
}

function lostLine(l: Partial<Lost>): string {
  return `lost ${l.count ?? '?'} event(s) from ${l.probe || '?'}`;
}

function startupLine(s: Partial<Startup>): string {
  const parts = ['startup'];
  if (s.retrace_version) parts.push(`retrace ${s.retrace_version}`);
  if (s.retis_version) parts.push(`retis ${s.retis_version}`);
  if (s.cmdline) parts.push(`cmdline '${s.cmdline}'`);
  const m = s.machine;
  if (m) parts.push(`machine ${[m.kernel_release, m.kernel_version, m.hardware_name].filter(Boolean).join(' ')}`);
  return parts.join(' ');
}
