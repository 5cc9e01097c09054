// What agents are given for a Trace (its checks: packages/spec/test/validate-trace.test.ts).
import type { TraceResource } from '@retrace/spec';
import { traceSpecOf } from '../../src/controller/trace-resource.js';

// null: a ClusterTrace
const trace = (spec: TraceResource['spec'], namespace: string | null = 'team'): TraceResource => ({
  metadata: { name: 'drops', ...(namespace !== null ? { namespace } : {}) },
  spec,
});

test('a ClusterTrace asks the agents to enrich OVS flows at its rate (0: the agent default)', () => {
  expect(
    traceSpecOf(trace({ collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: 7 }, null), [], []),
  ).toMatchObject({
    ovs_enrich_flows: true,
    ovs_enrich_rate: 7,
  });
  expect(traceSpecOf(trace({ ovsEnrichFlows: true }, null), [], [])).toMatchObject({
    ovs_enrich_flows: true,
    ovs_enrich_rate: 0,
  });
  expect(traceSpecOf(trace({ collectors: ['ovs'] }, null), [], [])).toMatchObject({
    ovs_enrich_flows: false,
    ovs_enrich_rate: 0,
  });
});

test('a profile goes to the agents as it is, to expand for their kernels', () => {
  expect(traceSpecOf(trace({ profile: 'drops,ifdump', packetFilter: 'udp' }), ['n1'], []).profile).toBe('drops,ifdump');
});

test('agents get the aggregator name, scope, limits and options of a trace', () => {
  const s = traceSpecOf(
    trace({
      packetFilter: 'udp',
      maxEvents: 10,
      eventsPerSecondPerNode: 5,
      skbSections: ['meta'],
      nftVerdicts: ['drop'],
    }),
    ['n1'],
    [],
  );
  expect(s).toMatchObject({
    name: 'team/drops',
    namespaced: true,
    filter: 'udp',
    nodes: ['n1'],
    skb_sections: ['meta'],
    nft_verdicts: 'drop',
    limits: { max_events: 10n, events_per_sec: 5 },
  });
  expect(traceSpecOf(trace({ allowSystemChanges: true }, null), [], [])).toMatchObject({
    name: 'drops',
    namespaced: false,
    allow_system_changes: true,
  });
});
