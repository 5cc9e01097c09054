// Collectors: which exist, which `auto` starts, and the probes each adds by itself.
import { existsSync } from 'node:fs';
import { KernelBtf } from '@retrace/ebpf-loader';
import { commaList } from '@retrace/spec';
import { CollectorError } from './errors.js';

export const COLLECTORS = ['skb-tracking', 'skb', 'skb-drop', 'dev', 'ns', 'ct', 'nft', 'ovs'] as const;
export type Collector = (typeof COLLECTORS)[number];

/** Why a collector cannot run on this kernel, or undefined when it can. */
export type CollectorCheck = ((c: Collector) => string | undefined) & {
  /** A stricter check for collectors `auto` starts (named ones use the plain check). */
  auto?: (c: Collector) => string | undefined;
};

/** A kernel part is there: its module is loaded, or it is built in (a struct of it is in vmlinux BTF). */
function inKernel(module: string, struct: string): boolean {
  if (existsSync(`/sys/kernel/btf/${module}`)) return true;
  try {
    return KernelBtf.vmlinux().structLayout(struct) !== undefined;
  } catch {
    return false;
  }
}

/** conntrack is in the kernel (built in, or the nf_conntrack module is loaded). */
export const conntrackPresent = (): boolean => inKernel('nf_conntrack', 'nf_conn');

/** nf_tables is in the kernel (built in, or its module is loaded). */
export const nftablesPresent = (): boolean => inKernel('nf_tables', 'nft_pktinfo');

/** The Open vSwitch kernel datapath is there (the openvswitch module is loaded, or built in). */
export const openvswitchPresent = (): boolean => inKernel('openvswitch', 'datapath');

export const kernelCheck: CollectorCheck = (c) => {
  if (c === 'ovs' && !openvswitchPresent())
    return 'this kernel has no Open vSwitch datapath loaded (modprobe openvswitch; ovs-vswitchd loads it when it starts)';
  if (c === 'nft' && !nftablesPresent())
    return 'this kernel has no nf_tables loaded (modprobe nf_tables, or load any nft ruleset)';
  if (c === 'ct' && !conntrackPresent())
    return 'this kernel has no connection tracking loaded (modprobe nf_conntrack, or add a conntrack rule such as `ct state new`)';
  return undefined;
};

export interface CollectorChoice {
  enabled: Set<Collector>;
  /** Collectors `auto` left out, with the reason (reported, not an error). */
  skipped: { name: Collector; reason: string }[];
}

/** `-c` list: names and `auto` (every collector that can run); a named one must run. */
export function chooseCollectors(list: string[], check: CollectorCheck = kernelCheck): CollectorChoice {
  const enabled = new Set<Collector>();
  const skipped: { name: Collector; reason: string }[] = [];
  const items = commaList(list);
  for (const item of items.length ? items : ['auto']) {
    if (item === 'auto') {
      for (const c of COLLECTORS) {
        const why = (check.auto ?? check)(c);
        if (why) skipped.push({ name: c, reason: why });
        else enabled.add(c);
      }
      continue;
    }
    if (!(COLLECTORS as readonly string[]).includes(item))
      throw new CollectorError(`unknown collector '${item}'; known: auto, ${COLLECTORS.join(', ')}`);
    const c = item as Collector;
    const why = check(c);
    if (why) throw new CollectorError(`collector '${c}' cannot run: ${why}`);
    enabled.add(c);
  }
  return { enabled, skipped: skipped.filter((s) => !enabled.has(s.name)) };
}

export interface AutoProbe {
  spec: string;
  /** Added only for tracking: attached silently unless the user or a collector wants events there. */
  silent: boolean;
  /** Skipped without error when this kernel lacks the function (e.g. inlined). */
  optional?: boolean;
}

/**
 * Probes collectors add: skb-drop reports drops; skb-tracking forgets freed skbs. Where kprobes
 * exist, tracking also gets retis's exact freeing points: the buffer freed (skb_free_head) and
 * a head handed to another skb (kfree_skb_partial), which no tracepoint shows.
 */
export function collectorProbes(enabled: Set<Collector>, kprobes = false): AutoProbe[] {
  const out: AutoProbe[] = [];
  if (enabled.has('skb-drop')) out.push({ spec: 'tp:skb:kfree_skb', silent: false });
  if (enabled.has('skb-tracking')) {
    if (!enabled.has('skb-drop')) out.push({ spec: 'tp:skb:kfree_skb', silent: true });
    out.push({ spec: 'tp:skb:consume_skb', silent: true });
    // Sockets free read datagrams without consume_skb; reading them ends their journey.
    out.push({ spec: 'tp:skb:skb_copy_datagram_iovec', silent: true });
    if (kprobes)
      for (const f of ['skb_free_head', 'kfree_skb_partial'])
        out.push({ spec: `kprobe:${f}`, silent: true, optional: true });
  }
  return out;
}

/**
 * Where tracking entries end, by `kind:symbol`: the skb is freed (`skb`: its head goes too when
 * no clone shares it), or its data buffer is (`head`).
 */
export const FREEING_POINTS: ReadonlyMap<string, 'skb' | 'head'> = new Map([
  ['tracepoint:skb:kfree_skb', 'skb'],
  ['tracepoint:skb:consume_skb', 'skb'],
  ['tracepoint:skb:skb_copy_datagram_iovec', 'skb'],
  ['kprobe:skb_free_head', 'head'],
  ['kprobe:kfree_skb_partial', 'skb'],
]);
export const DROP_POINTS: ReadonlySet<string> = new Set(['skb:kfree_skb']);

export const DEFAULT_PROBES = ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'];
