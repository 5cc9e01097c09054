// Which probes a session attaches, with what flags and by which mechanism.
import type { FeatureReport } from '@retrace/ebpf-loader';
import {
  DEFAULT_PROBES,
  DROP_POINTS,
  FREEING_POINTS,
  collectorProbes,
  type AutoProbe,
  type Collector,
} from '../collectors.js';
import { ProbeFlag } from '../decode/layout.js';
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
  /** A collector's own BPF program for this probe (default: the generic one of its mechanism). */
  program?: string;
  /** ovs return probes: which return they report (enum retrace_ovs_type). */
  ovsKret?: number;
  /** USDT: the binary's own path, for events (usdt.binary may be /proc/PID/exe). */
  path?: string;
}

export function planProbes(
  userSpecs: string[],
  collectors: Set<Collector>,
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
  const tracking = collectors.has('skb-tracking');
  for (const p of byKey.values()) {
    const tp = p.kind === 'tracepoint' ? p.symbol : '';
    const freeing = tracking ? FREEING_POINTS.get(`${p.kind}:${p.symbol}`) : undefined;
    if (p.stack || globalStack) p.flags |= ProbeFlag.STACK;
    if (freeing) p.flags |= freeing === 'head' ? ProbeFlag.FREE_HEAD : ProbeFlag.FREE;
    if (DROP_POINTS.has(tp) && collectors.has('skb-drop')) p.flags |= ProbeFlag.DROP;
    if (p.kind === 'kretprobe' || p.kind === 'fexit') p.flags |= ProbeFlag.NO_CREATE;
    if (p.silent) p.flags |= ProbeFlag.SILENT;
  }
  return [...byKey.values()];
}
