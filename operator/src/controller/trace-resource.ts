// What the operator adds to @retrace/spec's Trace types: its finalizer, the name the aggregator
// stores a trace under, and the TraceSpec agents run. The spec and status types are generated
// from crds/; the checks the schema cannot make are @retrace/spec's validateTrace.
import type { PodRef, TraceSpec } from '@retrace/events';
import { isNamespaced, type TraceResource } from '@retrace/spec';
import { objectKey } from './kube-types.js';

export const FINALIZER = 'retrace.dev/results';

/** The name the aggregator stores a trace under: namespace/name, or name for a ClusterTrace. */
export const aggregatorName = (t: TraceResource): string => objectKey(t);

/** What the agents run for a trace, for the nodes and pods it targets. */
export function traceSpecOf(t: TraceResource, nodes: string[], pods: PodRef[]): TraceSpec {
  const s = t.spec ?? {};
  const namespaced = isNamespaced(t);
  return {
    name: aggregatorName(t),
    // A namespaced Trace is always scoped by network namespace; a ClusterTrace is when it
    // selects pods (otherwise it traces whole nodes).
    namespaced: namespaced || s.podSelector !== undefined || s.namespaceSelector !== undefined,
    collectors: s.collectors ?? [],
    probes: s.probes ?? [],
    filter: s.packetFilter ?? '',
    profile: s.profile ?? '',
    meta_filter: s.metaFilter ?? '',
    stack: s.stack === true,
    limits: {
      max_events: BigInt(s.maxEvents ?? 0),
      duration_ms: 0, // the operator ends traces on duration (one clock for every node)
      events_per_sec: s.eventsPerSecondPerNode ?? 0,
    },
    pods,
    ovs_track: s.ovsTrack === true,
    ovs_enrich_flows: s.ovsEnrichFlows === true,
    ovs_enrich_rate: s.ovsEnrichFlows === true ? (s.ovsEnrichRate ?? 0) : 0,
    allow_system_changes: !namespaced && s.allowSystemChanges === true,
    nodes,
    skb_sections: s.skbSections ?? [],
    nft_verdicts: (s.nftVerdicts ?? []).join(','),
  };
}
