// The tracing flags `retrace collect` and `retrace create` (a cluster Trace) share: one
// definition, so a trace asked of the cluster reads exactly like one run on this host.
import { SKB_SECTIONS, commaList, isSkbSection, type SkbSection } from '@retrace/spec';
import type { Command } from 'commander';
import { UsageError } from '../usage-error.js';

/** commander's collector for a repeatable flag: every value, in order. */
export const repeat = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Checks a comma list value as it is parsed: an empty item names the flag and its position. */
export function checkCommaList(option: string, v: string): string {
  try {
    commaList(v, option);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return v;
}

/** A repeatable comma list flag (`-c a,b -c c`), each value checked. */
export const commaRepeat =
  (option: string) =>
  (v: string, prev: string[] = []): string[] => [...prev, checkCommaList(option, v)];

/** A comma list flag given once. */
export const commaValue =
  (option: string) =>
  (v: string): string =>
    checkCommaList(option, v);

/** What the shared flags parse into (commander's camelCase names). */
export interface TracingFlags {
  collectors: string[];
  probe: string[];
  filterPacket?: string;
  filterMeta?: string;
  stopAfter?: string;
  duration?: string;
  stack?: boolean;
  allowSystemChanges?: boolean;
  skbSections?: string;
  nftVerdicts?: string;
  ovsTrack?: boolean;
  ovsEnrichFlows?: boolean;
  ovsEnrichRate?: string;
}

/** Adds the flags that say what to trace and for how long. */
export function addTracingFlags(c: Command): Command {
  return c
    .option(
      '-c, --collectors <list>',
      'collectors: auto, skb-tracking, skb, skb-drop, dev, ns, ct, nft, ovs (comma list)',
      commaRepeat('-c/--collectors'),
      [],
    )
    .option(
      '-p, --probe <probe>',
      '[TYPE:]TARGET[/stack], repeatable (default: tp:net:netif_receive_skb, tp:net:net_dev_start_xmit)',
      repeat,
      [],
    )
    .option('-f, --filter-packet <expression>', 'tcpdump filter: only matching packets start being followed')
    .option('-m, --filter-meta <expression>', 'meta filter on sk_buff fields, e.g. "sk_buff.dev.name == \'eth0\'"')
    .option('--stop-after <count>', 'stop after COUNT events (a positive integer)')
    .option('--duration <seconds>', 'stop after this long, more than 0 (e.g. 10, 2.5s, 500ms, 1m)')
    .option('--stack', 'kernel stack trace on every event')
    .option(
      '--allow-system-changes',
      'mount tracefs if needed; for nft, add a table setting nftrace in every namespace (all undone on exit; the tables of a killed run go at the next collect or with retrace cleanup)',
    )
    .option(
      '--skb-sections <list>',
      'extra skb sections: meta, dataref, gso, all (comma list; default none: the packet, its device, namespace and VLAN offload are always there)',
      commaValue('--skb-sections'),
    )
    .option(
      '--nft-verdicts <list>',
      'nft verdicts that produce events: all, continue, break, jump, goto, return, drop, accept, stolen, queue, repeat (comma list)',
      commaValue('--nft-verdicts'),
      'drop,accept',
    )
    .option(
      '--ovs-track',
      'ovs: follow upcalls into ovs-vswitchd (its USDT probes) and back to the execution of the packet',
    )
    .option(
      '--ovs-enrich-flows',
      'ovs: ask ovs-vswitchd about each datapath flow a flow_lookup found (dpctl/get-flow, ofproto/detrace): ovs-detrace events',
    )
    .option('--ovs-enrich-rate <n>', 'ovs: at most N --ovs-enrich-flows requests a second (default 20)');
}

export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${name} must be a positive integer, got '${v}'`);
  if (!Number.isSafeInteger(Number(v)))
    throw new UsageError(`${name} ${v} is too large: at most ${Number.MAX_SAFE_INTEGER}`);
  return Number(v);
}

/** The longest a timer can run (setTimeout's limit, about 24.8 days), in seconds. */
export const MAX_DURATION_S = 2147483.647;

/** --duration in seconds: a bare number is seconds; ms, s and m suffixes; from 1 ms to ~24.8 days. */
export function seconds(v: string | undefined, name = '--duration'): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) {
    const why = /^\s*-/.test(v) ? 'a negative duration makes no sense' : 'not a duration';
    throw new UsageError(`${name} '${v}': ${why}; give a number of seconds (e.g. 10, 2.5s, 500ms, 1m)`);
  }
  const n = Number(m[1]);
  const s = m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
  if (s === 0)
    throw new UsageError(
      `${name} ${v} would stop before anything is traced: give a positive duration (e.g. 10, 500ms), or leave ${name} out to run until Ctrl-C`,
    );
  if (s < 0.001) throw new UsageError(`${name} ${v} is shorter than 1 ms, the shortest retrace can time`);
  if (s > MAX_DURATION_S)
    throw new UsageError(
      `${name} ${v} is longer than retrace can time (at most ${MAX_DURATION_S}s, about 24.8 days); leave ${name} out and stop with Ctrl-C or SIGTERM`,
    );
  return s;
}

/** retis's values that now select nothing: the data is always there (packet, dev, ns, vlan) or in the packet. */
const DEPRECATED_SKB_SECTIONS = ['packet', 'arp', 'ip', 'tcp', 'udp', 'icmp', 'vlan', 'dev', 'ns'];
/** Accepted and ignored without a word, as retis does: the Ethernet header is in the packet. */
const IGNORED_SKB_SECTIONS = ['eth'];

/**
 * --skb-sections as retis reads it: `meta`, `dataref`, `gso` or `all` add to the packet, which
 * is always reported; retis's older values are accepted with its warning. The result keeps the
 * order given, `packet` last when it was not named.
 */
export function skbSections(
  sections: string | undefined,
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Set<SkbSection> {
  const list = sections === undefined ? [] : commaList(sections, '--skb-sections');
  const bad = list.filter(
    (s) => s !== 'all' && !isSkbSection(s) && !DEPRECATED_SKB_SECTIONS.includes(s) && !IGNORED_SKB_SECTIONS.includes(s),
  );
  if (bad.length)
    throw new UsageError(
      `unknown --skb-sections ${bad.join(', ')}; known: all, meta, dataref, gso (deprecated, accepted: ${[...IGNORED_SKB_SECTIONS, ...DEPRECATED_SKB_SECTIONS].join(', ')})`,
    );
  for (const s of list.filter((x) => DEPRECATED_SKB_SECTIONS.includes(x)))
    warn(`warning: use of '${s}' in --skb-sections is deprecated (its data is always collected)`);
  if (list.includes('all')) return new Set(SKB_SECTIONS);
  return new Set([...list.filter(isSkbSection), 'packet']);
}
