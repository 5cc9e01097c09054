// What /metrics says of stored journeys, late events and drops: counted as they are stored, and
// all there whenever the metrics are read.
import { AggregatorMetrics } from '../../src/server/aggregator-metrics.js';

const lines = async (m: AggregatorMetrics): Promise<string[]> =>
  (await m.registry.metrics())
    .split('\n')
    .filter((l) => /journeys_total|drops_total|late_events_total/.test(l) && !l.startsWith('#'));

test('journeys by stitched, late events and drops by reason are all counted when the metrics are read', async () => {
  const m = new AggregatorMetrics();
  m.journey(true);
  m.journey(false);
  m.journey(true);
  m.lateEvent();
  m.drop('NETFILTER_DROP');
  m.drop('NETFILTER_DROP');
  m.drop('NO_SOCKET');
  expect(await lines(m)).toEqual([
    'retrace_aggregator_journeys_total{stitched="true"} 2',
    'retrace_aggregator_journeys_total{stitched="false"} 1',
    'retrace_aggregator_drops_total{reason="NETFILTER_DROP"} 2',
    'retrace_aggregator_drops_total{reason="NO_SOCKET"} 1',
    'retrace_aggregator_late_events_total 1',
  ]);
  m.journey(true);
  m.drop('NO_SOCKET');
  expect(await lines(m)).toEqual([
    'retrace_aggregator_journeys_total{stitched="true"} 3',
    'retrace_aggregator_journeys_total{stitched="false"} 1',
    'retrace_aggregator_drops_total{reason="NETFILTER_DROP"} 2',
    'retrace_aggregator_drops_total{reason="NO_SOCKET"} 2',
    'retrace_aggregator_late_events_total 1',
  ]);
});
