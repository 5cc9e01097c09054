// `retrace collect --probe-stack`, checked before anything loads: retis's rules (a filter is
// required; without -p it starts from tp:skb:kfree_skb and tp:skb:consume_skb) and the kernel's
// kprobes, which it adds at runtime (the session does: agent/src/session/probe-stack.ts).
import { PROBE_STACK_NEEDS_FILTER, ProbeStackError, probeStackNeedsKprobes } from '@retrace/agent';
import type { FeatureReport } from '@retrace/ebpf-loader';
import { kprobesMissing, type KernelConfig } from '../kernel-config.js';
import { UsageError } from '../usage-error.js';

/** The probes --probe-stack starts from when none is given (retis's). */
export const PROBE_STACK_SEEDS = ['tp:skb:kfree_skb', 'tp:skb:consume_skb'];

export interface ProbeStackFlags {
  probeStack?: boolean;
  probe: string[];
  filterPacket?: string;
  filterMeta?: string;
}

/** The probes to start with; throws when --probe-stack cannot run here (the reason, and where it can). */
export function probeStackStart(
  f: ProbeStackFlags,
  features: () => FeatureReport,
  kconf: KernelConfig | undefined,
): string[] {
  if (!f.probeStack) return f.probe;
  if (!f.filterPacket && !f.filterMeta) throw new UsageError(`--probe-stack ${PROBE_STACK_NEEDS_FILTER}`);
  const kprobe = features().kprobe;
  if (!kprobe.available)
    throw new ProbeStackError(
      probeStackNeedsKprobes(kprobesMissing(kconf) ?? kprobe.reason ?? 'kprobes do not attach'),
    );
  return f.probe.length ? f.probe : PROBE_STACK_SEEDS;
}
