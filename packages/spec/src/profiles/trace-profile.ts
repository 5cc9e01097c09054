// A trace's `profile` expanded on the node that runs it: each node picks the profile's collect
// entry that fits its own kernel (as `retrace -p` does on one host), so one ClusterTrace runs
// kprobes where the kernel has them and tracepoints elsewhere.
import { HOST_WIDE_COLLECTORS, isCollectorName } from '../collector-names.js';
import { commaList } from '../comma-list.js';
import type { KernelFacts } from './conditions.js';
import type { OptionShape } from './expand-args.js';
import { profileArguments } from './profile-args.js';

// collect's flags a profile may carry. Those of a local run only (output, printing, a command)
// and the limits the operator owns are read and left out, with a note.
const TRACING: Record<string, { value: OptionShape['value']; field: string }> = {
  '--collectors': { value: 'required', field: 'collectors' },
  '-c': { value: 'required', field: 'collectors' },
  '--probe': { value: 'required', field: 'probes' },
  '-p': { value: 'required', field: 'probes' },
  '--filter-packet': { value: 'required', field: 'filter' },
  '-f': { value: 'required', field: 'filter' },
  '--filter-meta': { value: 'required', field: 'meta_filter' },
  '-m': { value: 'required', field: 'meta_filter' },
  '--stack': { value: 'none', field: 'stack' },
  '--skb-sections': { value: 'required', field: 'skb_sections' },
  '--nft-verdicts': { value: 'required', field: 'nft_verdicts' },
  '--ovs-track': { value: 'none', field: 'ovs_track' },
  '--allow-system-changes': { value: 'none', field: 'allow_system_changes' },
};
const LOCAL_ONLY: Record<string, OptionShape['value']> = {
  '--out': 'optional',
  '-o': 'optional',
  '--print': 'none',
  '--format': 'required',
  '--utc': 'none',
  '-e': 'none',
  '--cmd': 'required',
  '--stop-after': 'required',
  '--duration': 'required',
  '--ring-size': 'required',
};

export const NODE_PROFILE_OPTIONS: OptionShape[] = [
  ...Object.entries(TRACING).map(([flag, o]) => ({ flag, value: o.value })),
  ...Object.entries(LOCAL_ONLY).map(([flag, value]) => ({ flag, value })),
];

/**
 * The fields of a node's trace (the agents' TraceSpec, in its wire names) that a profile reads or
 * sets; the rest of the spec passes through.
 */
export interface ProfileableSpec {
  profile?: string;
  namespaced?: boolean;
  collectors?: string[];
  probes?: string[];
  filter?: string;
  meta_filter?: string;
  stack?: boolean;
  skb_sections?: string[];
  nft_verdicts?: string;
  ovs_track?: boolean;
  allow_system_changes?: boolean;
}

export interface ProfiledSpec<T extends ProfileableSpec> {
  spec: T;
  notes: string[];
}

/**
 * The spec with its profile's collect entry for this kernel applied: collectors and probes are
 * added to the spec's own; a filter, meta filter, skb sections or nft verdicts the spec does not
 * set come from the profile. What would widen the trace beyond what its spec was allowed (system
 * changes, ovs tracking, host-wide collectors and USDT probes in a pod-scoped trace) is left out.
 */
export function applyProfile<T extends ProfileableSpec>(
  spec: T,
  kernel: KernelFacts,
  dirs: readonly string[],
): ProfiledSpec<T> {
  if (!spec.profile) return { spec, notes: [] };
  const notes: string[] = [];
  const argv = profileArguments(commaList(spec.profile), 'collect', NODE_PROFILE_OPTIONS, {
    dirs,
    kernel,
    warn: (l) => notes.push(l),
  });
  const out: T = { ...spec, collectors: [...(spec.collectors ?? [])], probes: [...(spec.probes ?? [])] };
  const left: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const t = TRACING[flag];
    if (!t) {
      if (LOCAL_ONLY[flag] === 'required') i++;
      left.push(flag);
      continue;
    }
    const value = t.value === 'required' ? (argv[++i] ?? '') : '';
    switch (t.field) {
      case 'collectors':
        for (const c of commaList(value))
          if (c === 'auto')
            continue; // no collectors in the spec means auto already
          else if (spec.namespaced && isCollectorName(c) && HOST_WIDE_COLLECTORS.has(c)) left.push(`collector ${c}`);
          else if (!out.collectors?.includes(c)) out.collectors?.push(c);
        break;
      case 'probes':
        if (spec.namespaced && value.startsWith('usdt:')) left.push(`probe ${value}`);
        else if (!out.probes?.includes(value)) out.probes?.push(value);
        break;
      case 'filter':
        if (!out.filter) out.filter = value;
        break;
      case 'meta_filter':
        if (!out.meta_filter) out.meta_filter = value;
        break;
      case 'stack':
        out.stack = true;
        break;
      case 'skb_sections':
        if (!out.skb_sections?.length) out.skb_sections = commaList(value).filter((s) => s !== 'all');
        break;
      case 'nft_verdicts':
        if (!out.nft_verdicts) out.nft_verdicts = value;
        break;
      // ovs tracking and system changes: only the trace's own spec may ask for them.
      case 'ovs_track':
        if (!spec.ovs_track) left.push(flag);
        break;
      default:
        if (!spec.allow_system_changes) left.push(flag);
    }
  }
  if (left.length)
    notes.push(
      `profile ${spec.profile}: left out on a cluster node: ${[...new Set(left)].join(', ')} (set them in the trace's spec where the trace may have them)`,
    );
  return { spec: out, notes };
}
