// Which probes a session attaches with the generic programs, with what flags and by which
// mechanism: the user's probes and the ones collectors add (collectors decide their flags).
import type { FeatureReport } from '@retrace/ebpf-loader';
import type { AutoProbe } from '../collectors/collector.js';
import { REGISTRY } from '../collectors/index.js';
import { ProbeFlag } from '../decode/layout.js';
import type { ProbeGlobals, ProgramName } from '../gen/probe-skeleton.js';
import { chooseMechanism, probeTypeName, type Mechanism } from '../probes/mechanism.js';
import { resolveProbe, type ResolvedProbe } from '../probes/resolve.js';
import { parseProbe } from '@retrace/spec';

export interface PlannedProbe extends ResolvedProbe {
  id: number;
  mechanism: Mechanism;
  probeType: string;
  flags: number;
  /** Attached for tracking only: produces no events. */
  silent: boolean;
  /** The collector whose own probe this is (it attaches it); none: a generic probe. */
  collector?: string;
  /** The program the probe runs (default: the generic one of its mechanism). */
  program?: ProgramName;
  /** Settings of the probe's own load of the object, if it has one. */
  globals?: Partial<ProbeGlobals>;
  /** USDT: the binary's own path, for events (usdt.binary may be /proc/PID/exe). */
  path?: string;
}

/** The probes the enabled collectors add (attached with the generic programs). */
export function collectorProbes(enabled: ReadonlySet<string>, kprobes = false): AutoProbe[] {
  return REGISTRY.filter((c) => enabled.has(c.name)).flatMap((c) => c.probes?.({ kprobes, enabled }) ?? []);
}

/** The probes given without -p. */
export const DEFAULT_PROBES = ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'];

export function planProbes(
  userSpecs: string[],
  collectors: ReadonlySet<string>,
  features: FeatureReport,
  globalStack: boolean,
): PlannedProbe[] {
  const kprobes = features.kprobe_multi.available || features.kprobe.available;
  const wanted: AutoProbe[] = [
    ...(userSpecs.length ? userSpecs : DEFAULT_PROBES).map((spec) => ({ spec, silent: false })),
    ...collectorProbes(collectors, kprobes),
  ];
  const byKey = new Map<string, PlannedProbe>();
  for (const w of wanted) {
    const spec = parseProbe(w.spec);
    const mechanism = chooseMechanism(spec.kind, spec.text, features);
    let resolved: ResolvedProbe[];
    try {
      resolved = resolveProbe(spec);
    } catch (e) {
      if (w.optional) continue;
      throw e;
    }
    for (const r of resolved) {
      const key = `${r.kind}:${r.symbol}`;
      const prev = byKey.get(key);
      if (prev) {
        // The same probe asked twice (e.g. by the user and a collector): one attachment.
        prev.silent &&= w.silent;
        prev.stack ||= r.stack;
        continue;
      }
      byKey.set(key, {
        ...r,
        id: byKey.size,
        mechanism,
        probeType: probeTypeName(mechanism),
        flags: 0,
        silent: w.silent,
      });
    }
  }
  const running = REGISTRY.filter((c) => collectors.has(c.name));
  for (const p of byKey.values()) {
    for (const c of running) p.flags |= c.probeFlags?.(p, collectors) ?? 0;
    if (p.stack || globalStack) p.flags |= ProbeFlag.STACK;
    if (p.kind === 'kretprobe' || p.kind === 'fexit') p.flags |= ProbeFlag.NO_CREATE;
    if (p.silent) p.flags |= ProbeFlag.SILENT;
  }
  return [...byKey.values()];
}
