// tcpdump expressions -> the eBPF spliced into probe placeholders: an L2 variant (from the
// Ethernet header) and an L3 variant (from the IP header, for probes without a link layer).
import { compilePacketFilter, rawNative, type FeatureReport } from '@retrace/ebpf-loader';
import { translateFilter, type TranslateOptions } from './cbpf-to-ebpf.js';
import { FILTER_MAGIC_META, type CompiledMetaFilter } from './meta-compile.js';

export const FILTER_MAGIC_L2 = 0x0dea0002; // bpf/include/filter.bpf.h
export const FILTER_MAGIC_L3 = 0x0dea0003;

/** `r0 = 0`: the L3 variant when the expression cannot be decided without a link layer. */
const REJECT = Buffer.from([0xb4, 0x00, 0, 0, 0, 0, 0, 0]);

/** Expressions naming link-layer fields: undecidable from the IP header on. */
const LINK_LAYER =
  /\b(ether|broadcast|multicast|vlan|mpls|pppoes|pppoed|arp|rarp|stp|llc|decnet|atalk|aarp|ipx|netbeui|iso|isis|clnp|esis)\b/;

export interface CompiledFilter {
  expression: string;
  l2: Buffer;
  /** Undefined when the expression needs the link layer (e.g. `ether host`): such packets never match at L3. */
  l3?: Buffer;
  l3Unavailable?: string;
  cbpfInstructions: number;
  ebpfInstructions: number;
  /** Translated with direct packet loads: whoever runs it passes a bpf_rdonly_cast(p, 0) pointer. */
  direct: boolean;
}

/**
 * The translation this kernel's probes run: direct packet loads where the kernel allows them (in
 * probe.bpf.o, loaded where direct reads are), else the header copy; in probe_compat.bpf.o, whose
 * sk_buff copy leaves no stack for the header copy, a helper call per load.
 */
export function filterOptions(features: Pick<FeatureReport, 'direct_reads' | 'direct_packet'>): TranslateOptions {
  const directReads = features.direct_reads.available;
  return { direct: directReads && features.direct_packet.available, prefetch: directReads };
}

/** Compiles an expression exactly as tcpdump does, then translates both variants to eBPF. */
export function compileFilter(expression: string, opts: TranslateOptions = {}): CompiledFilter {
  const l2Cbpf = compilePacketFilter(expression, { linkType: 'EN10MB' });
  const l2 = translateFilter(l2Cbpf, opts);
  const out: CompiledFilter = {
    expression,
    l2,
    cbpfInstructions: l2Cbpf.length,
    ebpfInstructions: l2.length / 8,
    direct: !!opts.direct,
  };
  if (LINK_LAYER.test(expression)) {
    out.l3Unavailable = 'it tests link-layer fields';
    return out;
  }
  try {
    out.l3 = translateFilter(compilePacketFilter(expression, { linkType: 'RAW' }), opts);
  } catch (e) {
    out.l3Unavailable = (e as Error).message;
  }
  return out;
}

/**
 * Makes programs loaded from now on run this filter at their placeholders (or accept all
 * without one). Returns the undo. The splice table is process-wide: one session at a time.
 */
export function installFilter(filter: CompiledFilter | undefined, meta?: CompiledMetaFilter): () => void {
  rawNative.setSplice(FILTER_MAGIC_L2, filter ? filter.l2 : null);
  rawNative.setSplice(FILTER_MAGIC_L3, filter ? (filter.l3 ?? REJECT) : null);
  rawNative.setSplice(FILTER_MAGIC_META, meta ? meta.insns : null);
  return () => {
    for (const m of [FILTER_MAGIC_L2, FILTER_MAGIC_L3, FILTER_MAGIC_META]) rawNative.setSplice(m, null);
  };
}
