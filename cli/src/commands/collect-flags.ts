// The tracing flags `retrace collect` and `retrace create` (a cluster Trace) share: one
// definition, so a trace asked of the cluster reads exactly like one run on this host.
import { commaList } from '@retrace/agent';
import type { Command } from 'commander';
import { UsageError } from '../usage-error.js';

/** commander's collector for a repeatable flag: every value, in order. */
export const repeat = (v: string, prev: string[] = []): string[] => [...prev, v];

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
}

/** Adds the flags that say what to trace and for how long. */
export function addTracingFlags(c: Command): Command {
  return c
    .option(
      '-c, --collectors <list>',
      'collectors: auto, skb-tracking, skb, skb-drop, dev, ns, ct, nft, ovs (comma list)',
      repeat,
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
    .option('--stop-after <count>', 'stop after COUNT events')
    .option('--duration <seconds>', 'stop after this long (e.g. 10, 500ms, 1m)')
    .option('--stack', 'kernel stack trace on every event')
    .option(
      '--allow-system-changes',
      'mount tracefs if needed; for nft, add a table setting nftrace in every namespace (all undone on exit)',
    )
    .option('--skb-sections <list>', 'skb sections: all, meta, dataref, gso, packet', 'all')
    .option(
      '--nft-verdicts <list>',
      'nft verdicts that produce events: all, continue, break, jump, goto, return, drop, accept, stolen, queue, repeat',
      'drop,accept',
    )
    .option(
      '--ovs-track',
      'ovs: follow upcalls into ovs-vswitchd (its USDT probes) and back to the execution of the packet',
    );
}

export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${name} must be a positive integer, got '${v}'`);
  return Number(v);
}

/** --duration in seconds: a bare number is seconds; ms, s and m suffixes. */
export function seconds(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new UsageError(`--duration must be a number of seconds (e.g. 10, 2.5s, 500ms, 1m), got '${v}'`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

export const SKB_SECTIONS = ['meta', 'dataref', 'gso', 'packet'];

export function skbSections(sections: string | undefined): Set<string> {
  const list = commaList(sections ?? 'all');
  const bad = list.filter((s) => s !== 'all' && !SKB_SECTIONS.includes(s));
  if (bad.length)
    throw new UsageError(`unknown --skb-sections ${bad.join(', ')}; known: all, ${SKB_SECTIONS.join(', ')}`);
  return new Set(list.includes('all') ? SKB_SECTIONS : list);
}
