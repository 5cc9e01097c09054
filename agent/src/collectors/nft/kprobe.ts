// Where kprobes exist, the nft collector probes __nft_trace_packet as retis does: the decision
// and the packet's skb in one record, no matching needed.
import { KernelBtf, type FeatureReport } from '@retrace/ebpf-loader';
import { ProbeFlag } from '../../decode/layout.js';
import type { PlannedProbe } from '../../session/plan.js';

export const NFT_TRACE_FUNCTION = '__nft_trace_packet';

/** A user probe on __nft_trace_packet (e.g. retis's nft-dropmon profile) is the collector's own. */
export function isNftTraceProbe(spec: string): boolean {
  return new RegExp(`^(?:(?:kprobe|k):)?${NFT_TRACE_FUNCTION}(?:/|$)`).test(spec);
}

const VERDICT_BITS: Record<string, number> = {
  drop: 0,
  accept: 1,
  stolen: 2,
  queue: 3,
  repeat: 4,
  continue: 9,
  break: 10,
  jump: 11,
  goto: 12,
  return: 13,
};

/** The BPF verdict mask (nft_verdicts_mask) of --nft-verdicts. */
export function verdictMask(verdicts: ReadonlySet<string>): number {
  if (verdicts.has('all')) return 0xffffffff;
  let m = 0;
  for (const v of verdicts) m |= 1 << (VERDICT_BITS[v] ?? 31);
  return m >>> 0;
}

/** The prototype of __nft_trace_packet in the kernel or the nf_tables module, if any. */
function prototypeParams(): string[] | undefined {
  const built = KernelBtf.vmlinux().functionPrototype(NFT_TRACE_FUNCTION);
  if (built) return built.params.map((p) => p.type);
  if (!KernelBtf.moduleNames().includes('nf_tables')) return undefined;
  const mod = KernelBtf.module('nf_tables');
  try {
    return mod.functionPrototype(NFT_TRACE_FUNCTION)?.params.map((p) => p.type);
  } finally {
    mod.close();
  }
}

export interface NftKprobePlan {
  probe: PlannedProbe;
  /** nft_kprobe_layout: 1 = (info, chain, type), 2 = (pkt, verdict, rule, info, type). */
  layout: number;
}

/**
 * The kprobe, when this kernel has kprobes and the function; undefined otherwise. Its own load
 * reports the verdicts of the mask (verdictMask).
 */
export function planNftKprobe(
  features: FeatureReport,
  id: number,
  stack: boolean,
  verdicts = 0x3,
): NftKprobePlan | undefined {
  if (!features.kprobe.available) return undefined;
  const params = prototypeParams();
  if (!params) return undefined;
  const layout = /nft_traceinfo/.test(params[0] ?? '') ? 1 : /nft_pktinfo/.test(params[0] ?? '') ? 2 : 0;
  if (!layout) return undefined;
  return {
    layout,
    probe: {
      spec: `kprobe:${NFT_TRACE_FUNCTION}`,
      kind: 'kprobe',
      symbol: NFT_TRACE_FUNCTION,
      target: NFT_TRACE_FUNCTION,
      nargs: params.length,
      stack,
      id,
      mechanism: 'kprobe',
      probeType: 'kprobe',
      flags: stack ? ProbeFlag.STACK : 0,
      silent: false,
      collector: 'nft',
      program: 'probe_nft_kprobe',
      globals: { col_nft: true, nft_kprobe_layout: layout, nft_verdicts_mask: verdicts },
    },
  };
}
