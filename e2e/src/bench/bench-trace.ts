// The cluster-wide trace the aggregator benchmarks run their synthetic events under.
import type { TraceSpec } from '@retrace/events';

export const BENCH_TRACE: TraceSpec = {
  name: 'bench',
  namespaced: false,
  collectors: [],
  probes: [],
  filter: '',
  profile: '',
  meta_filter: '',
  stack: false,
  pods: [],
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nft_verdicts: '',
};
