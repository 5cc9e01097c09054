// nft: nftables verdicts on followed packets (docs/nft.md). Where kprobes exist, the
// __nft_trace_packet kprobe writes them into the packet's own records (the nft part); elsewhere
// nftables' trace messages are read from netlink sockets in every namespace and matched to the
// packets by their bytes. BPF: bpf/collectors/nft.bpf.h (part), nft.progs.bpf.h (programs).
import { partSection } from '../../decode/section.js';
import { parseVerdicts } from '@retrace/spec';
import { nftCheck } from '../../nft/nft-options.js';
import { defineCollector } from '../define.js';
import { inKernel } from '../kernel-parts.js';
import { NftDecoder } from './decode.js';
import { isNftTraceProbe, planNftKprobe, verdictMask } from './kprobe.js';
import { NftCollector } from './nft-collector.js';
import { nftRecordTap } from './record-tap.js';

export interface NftOptions {
  /** nft verdicts that produce events (--nft-verdicts; default drop, accept). */
  nftVerdicts?: string;
  /**
   * How nft trace messages are timed without kprobes: `kernel` (sock:sk_data_ready, when the
   * kernel has it; the default) or `arrival` (what older kernels get; for tests).
   */
  nftTiming?: 'kernel' | 'arrival';
}

/** nf_tables is in the kernel (built in, or its module is loaded). */
export const nftablesPresent = (): boolean => inKernel('nf_tables', 'nft_pktinfo');

const NAME = 'nft';

/** What the matcher did (without the kprobe, verdicts are matched to packets). */
function summary(s: NftCollector['stats']): string {
  return (
    `nft: ${s.matched} verdict(s) matched to followed packets, ${s.unmatched} not, ${s.filtered} left out by --nft-verdicts` +
    `${s.overruns ? `, ${s.overruns} trace message(s) lost (socket overrun)` : ''}, ${s.namespaces} namespace(s) watched` +
    `${s.unknownHandles ? `, ${s.unknownHandles} verdict(s) of a table or chain gone before its handle was read (handle 0)` : ''}`
  );
}

export const nft = defineCollector({
  name: NAME,
  // Traces are matched to followed packets by their bytes, in their namespace.
  needs: ['skb-tracking', 'skb', 'ns'],
  unavailable: () =>
    nftablesPresent() ? undefined : 'this kernel has no nf_tables loaded (modprobe nf_tables, or load any nft ruleset)',
  unavailableForAuto: (options): string | undefined => nftCheck(!!options.allowSystemChanges).auto?.(NAME),
  validate: (options) => void parseVerdicts(options.nftVerdicts),
  // A probe on __nft_trace_packet (retis's nft-dropmon) is the collector's own.
  claims: isNftTraceProbe,
  ownProbes: ({ features, options }, firstId, claimed) => {
    const stack = !!options.stack || claimed.some((p) => p.endsWith('/stack'));
    const plan = planNftKprobe(features, firstId, stack, verdictMask(parseVerdicts(options.nftVerdicts)));
    return plan ? [plan.probe] : [];
  },
  // Without the kprobe, messages are timed in the kernel as they are queued (when it can).
  mainPrograms: ({ probes, options }) =>
    probes.some((p) => p.collector === NAME) || options.nftTiming === 'arrival' ? [] : ['nft_trace_ready'],
  attach: (p, { perTarget, link }) =>
    link(perTarget(p, ['probe_nft_kprobe'], p.globals).program('probe_nft_kprobe').attachKprobe(p.target)),
  sections: (layouts) => {
    const decoder = new NftDecoder(layouts.struct('retrace_nft'));
    return [partSection('nft', layouts, 'nft', (view, buf, at) => decoder.decode(view, buf, at))];
  },
  start: (ctx) => {
    const kprobe = ctx.probes.some((p) => p.collector === NAME);
    const collector = new NftCollector({
      verdicts: parseVerdicts(ctx.options.nftVerdicts),
      allowSystemChanges: !!ctx.options.allowSystemChanges,
      // A packet retrace does not follow (filtered out, out of scope) must not show up through its verdicts.
      emitUnmatched: !ctx.selective,
      emit: ctx.emit,
      note: ctx.note,
      messages: !kprobe,
    });
    if (!kprobe && ctx.options.nftTiming !== 'arrival') {
      try {
        ctx.link(ctx.main.program('nft_trace_ready').attachRawTracepoint('sk_data_ready'));
        collector.useKernelTimestamps(ctx.main.map('nft_sockets'));
      } catch {
        ctx.note(
          'nft: this kernel has no sock:sk_data_ready tracepoint; verdicts are timed when retrace reads them (less exact placement)',
        );
      }
    }
    collector.start();
    // Without the kprobe, verdicts come as records of their own and are matched to packets.
    const tap = kprobe ? undefined : nftRecordTap(ctx.layouts, collector);
    return {
      ...(tap ? { tap, summary: () => summary(collector.stats) } : {}),
      stop: () => collector.stop(),
    };
  },
});
