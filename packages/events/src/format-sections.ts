// The text of each event section after the header line (retis's order and wording). Sections
// come from files of many versions: every field is treated as possibly missing.
import type { Dev, Event, K8s, Lost, Netns, Nft, Startup } from './gen/event.js';
import { FIELDS } from './descriptors.js';
import { ctText } from './format-ct.js';
import { skbText } from './format-skb.js';
import { ovsLines } from './format-ovs-detrace.js';
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
    ...ovsLines(ev, multiline),
    ev.nft ? nftLine(ev.nft) : undefined,
    ev.ct ? ctText(ev.ct, multiline) : undefined,
    ev.lost ? lostLine(ev.lost) : undefined,
    ev.startup ? startupText(ev.startup, multiline) : undefined,
    ...OTHER_SECTIONS.map((key) => otherLine(key, (ev as Record<string, unknown>)[key])),
    // Sections the schema does not know (e.g. retis's ovs-detrace): their fields, readably.
    ...Object.keys(ev)
      .filter((key) => !SHOWN.has(key) && !OTHER_SET.has(key))
      .map((key) => otherLine(key, (ev as Record<string, unknown>)[key])),
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
  'ovs-detrace',
  'startup',
  'tracking',
  'lost',
  'k8s',
  'journey',
]);
/** The schema's other sections (a collector's that has no line of its own yet): shown generically. */
const OTHER_SECTIONS = (FIELDS['Event'] ?? []).map((f) => f.json).filter((k) => !SHOWN.has(k));
const OTHER_SET: ReadonlySet<string> = new Set(OTHER_SECTIONS);

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

// retis: `table filter (1) chain output (2) handle 5 accept (policy) chain other`; handles are
// left out where retrace has none (netlink mode), the family (retrace's) comes last.
function nftLine(n: Partial<Nft>): string {
  const handle = (h: bigint | undefined): string => (def(h) ? ` (${h})` : '');
  let s = `table ${n.table_name ?? '?'}${handle(n.table_handle)} chain ${n.chain_name ?? '?'}${handle(n.chain_handle)}`;
  if (def(n.rule_handle)) s += ` handle ${n.rule_handle}`;
  s += ` ${n.verdict ?? '?'}`;
  if (n.policy) s += ' (policy)';
  if (def(n.verdict_chain_name)) s += ` chain ${n.verdict_chain_name}`;
  if (n.family) s += ` family ${n.family}`;
  return s;
}

function lostLine(l: Partial<Lost>): string {
  return `lost ${l.count ?? '?'} event(s) from ${l.probe || '?'}`;
}

/** As retis 1.7: one line per fact when multi-line; what the file does not record is left out. */
function startupText(s: Partial<Startup>, multiline: boolean): string {
  const parts = [`collected with Retis ${s.retis_version || '?'}`];
  const m = s.machine;
  if (m) parts.push(`on machine ${m.kernel_release} ${m.kernel_version} ${m.hardware_name}`);
  // Which file of a rotated set (collect --out-rotate) this is.
  if (s.split_file) parts.push(`file id ${s.split_file.id}`);
  if (def(s.cmdline)) parts.push(`cmdline ${s.cmdline}`);
  if (s.retrace_version) parts.push(`retrace ${s.retrace_version}`);
  return parts.join(multiline ? '\n' : ' ');
}
