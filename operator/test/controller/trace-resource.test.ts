// What the operator refuses in a Trace before any agent sees it, and what agents are given.
import { parseDuration, traceSpecOf, validateTrace, type TraceResource } from '../../src/controller/trace-resource.js';

// null: a ClusterTrace
const trace = (spec: TraceResource['spec'], namespace: string | null = 'team'): TraceResource => ({
  metadata: { name: 'drops', ...(namespace !== null ? { namespace } : {}) },
  spec,
});

test.each([
  [{ packetFilter: 'tcp port' }, /^spec\.packetFilter: /],
  [{ probes: ['tp:skb:kfree_skb', 'kprobe:a b'] }, /^spec\.probes\[1\]: /],
  [{ collectors: ['skb', 'bogus'] }, /^spec\.collectors\[1\]: unknown collector bogus/],
  [{ metaFilter: 'sk_buff.mark ==' }, /^spec\.metaFilter: /],
  [{ allowSystemChanges: true }, /^spec\.allowSystemChanges: a namespaced Trace may not change the nodes/],
  [{ collectors: ['ovs'] }, /^spec\.collectors\[0\]: the ovs collector sees the whole node/],
  [{ probes: ['usdt:/usr/sbin/ovs-vswitchd:udpif:upcall'] }, /^spec\.probes\[0\]: .*host process/],
  [{ duration: '5 minutes' }, /^spec\.duration: "5 minutes" is not a duration/],
  [{ nftVerdicts: ['maybe'] }, /^spec\.nftVerdicts: unknown --nft-verdicts maybe/],
  [{ profile: 'drops,nope' }, /^spec\.profile: no profile named 'nope'; available: .*drops/],
])('a namespaced Trace with %j is refused, naming the field', (spec, want) => {
  expect(() => validateTrace(trace(spec))).toThrow(want);
});

test('a ClusterTrace may use host-wide collectors, USDT probes and system changes', () => {
  expect(() =>
    validateTrace(
      trace(
        { collectors: ['ovs', 'skb'], probes: ['usdt:/usr/sbin/ovs-vswitchd:udpif:upcall'], allowSystemChanges: true },
        null,
      ),
    ),
  ).not.toThrow();
});

test('a known profile is accepted, and goes to the agents to expand for their kernels', () => {
  const t = trace({ profile: 'drops,ifdump', packetFilter: 'udp' });
  expect(() => validateTrace(t)).not.toThrow();
  expect(traceSpecOf(t, ['n1'], []).profile).toBe('drops,ifdump');
});

test('durations add up their parts', () => {
  expect(parseDuration('d', '1h30m')).toBe(5_400_000);
  expect(parseDuration('d', '500ms')).toBe(500);
  expect(parseDuration('d', '1.5s')).toBe(1500);
  expect(parseDuration('d', undefined)).toBe(0);
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
