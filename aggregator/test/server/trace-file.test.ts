// Traces from a file (the aggregator without Kubernetes): what a user gets wrong is named.
import { runsOn, specForNode, traceSpecsFrom, TraceFileError } from '../../src/server/trace-file.js';

const ok = {
  traces: [
    {
      name: 'drops',
      namespace: 'team',
      collectors: ['skb', 'skb-drop'],
      filter: 'udp port 53',
      limits: { maxEvents: 100, duration: '30s', eventsPerSec: 50 },
      pods: [
        { name: 'a', node: 'n1', ips: ['10.0.0.1'] },
        { name: 'b', node: 'n2' },
      ],
    },
  ],
};

test('a namespaced trace: name, limits, pods narrowed to each node', () => {
  const [t] = traceSpecsFrom(ok, 't.yaml');
  expect(t).toMatchObject({ name: 'team/drops', namespaced: true, filter: 'udp port 53' });
  expect(t?.limits).toEqual({ max_events: 100n, duration_ms: 30_000, events_per_sec: 50 });
  expect(specForNode(t!, 'n1').pods?.map((p) => p.name)).toEqual(['a']);
  // A namespaced trace may not make system changes, whatever the file says.
  expect(traceSpecsFrom({ traces: [{ ...ok.traces[0], allowSystemChanges: true }] })[0]?.allow_system_changes).toBe(
    false,
  );
});

test('a trace for some nodes only, with skb sections and nft verdicts', () => {
  const [t] = traceSpecsFrom({
    traces: [{ name: 'x', nodes: ['n2'], skbSections: ['meta', 'packet'], nftVerdicts: ['drop', 'jump'] }],
  });
  expect([runsOn(t!, 'n1'), runsOn(t!, 'n2')]).toEqual([false, true]);
  expect(t).toMatchObject({ skb_sections: ['meta', 'packet'], nft_verdicts: 'drop,jump' });
  expect(runsOn(traceSpecsFrom({ traces: [{ name: 'y' }] })[0]!, 'n1')).toBe(true);
});

test('OVS flow enrichment and its rate, in a node-wide trace only', () => {
  const [t] = traceSpecsFrom({ traces: [{ name: 'o', collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: 5 }] });
  expect(t).toMatchObject({ ovs_enrich_flows: true, ovs_enrich_rate: 5 });
  expect(traceSpecsFrom({ traces: [{ ...ok.traces[0], ovsEnrichFlows: true }] })[0]?.ovs_enrich_flows).toBe(false);
  expect(() => traceSpecsFrom({ traces: [{ name: 'o', ovsEnrichRate: -1 }] })).toThrow(
    /traces\[0\]\.ovsEnrichRate must be a whole number >= 0/,
  );
});

test.each([
  [{}, /expected a top-level `traces:` list/],
  [{ traces: [{ namespace: 'x' }] }, /traces\[0\]\.name is required/],
  [{ traces: [{ name: 'x', colectors: [] }] }, /traces\[0\]\.colectors is not a trace field \(known: name, /],
  [
    { traces: [{ name: 'x', limits: { duration: 'soon' } }] },
    /traces\[0\]\.limits\.duration must be a duration like 30s/,
  ],
  [
    { traces: [{ name: 'x', limits: { maxEvents: -1 } }] },
    /traces\[0\]\.limits\.maxEvents must be a whole number >= 0/,
  ],
  [{ traces: [{ name: 'x', pods: [{ name: 'p' }] }] }, /traces\[0\]\.pods\[0\] needs at least name and node/],
  [
    { traces: [{ name: 'x', namespace: 'a', pods: [{ name: 'p', node: 'n', namespace: 'b' }] }] },
    /pod of namespace b in a trace of namespace a/,
  ],
  [{ traces: [{ name: 'x' }, { name: 'x' }] }, /trace x is defined twice/],
])('refused with what is wrong: %j', (doc, message) => {
  expect(() => traceSpecsFrom(doc, 't.yaml')).toThrow(TraceFileError);
  expect(() => traceSpecsFrom(doc, 't.yaml')).toThrow(message);
});
