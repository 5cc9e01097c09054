// The sort benchmark runs (its numbers are for `node operator/dist/aggregator/bench-sort.js`, not
// asserted here): every synthetic ping crosses two nodes and must come out stitched.
import { encodeMessage } from '@retrace/events';
import { benchSort, syntheticArrivals, syntheticTrace, type SyntheticEvent } from '../../src/journeys/index.js';

test('benchSort sorts the synthetic trace into stitched journeys and reports both rates', () => {
  const r = benchSort(20_000);
  expect(r.events).toBe(20_000);
  expect(r.journeys).toBe(2_500);
  expect(r.stitched).toBe(r.journeys);
  expect(r.eventsPerSec).toBeGreaterThan(0);
  expect(r.baselineEventsPerSec).toBeGreaterThan(0);
  let n = 0;
  for (const chunk of syntheticTrace(1000)) n += chunk.length;
  expect(n).toBe(1000);
});

test("syntheticArrivals streams syntheticTrace's events in its order, each node's batch period a chunk", () => {
  const flat = (chunks: Iterable<SyntheticEvent[]>): string[] =>
    [...chunks].flat().map(({ node, event }) => `${node} ${encodeMessage('Event', event).toString('hex')}`);
  for (const [n, nodes, agents, index] of [
    [20_000, 4, 1, 0],
    [20_003, 4, 4, 2],
    [9_000, 6, 3, 1],
  ] as const) {
    const only = (x: number): boolean => x % agents === index;
    const chunks = [...syntheticArrivals(n, nodes, only)];
    expect(flat(chunks)).toEqual(flat(syntheticTrace(n, nodes, only)));
    for (const chunk of chunks) expect(new Set(chunk.map((e) => e.node)).size).toBe(1);
    const periods = [...syntheticTrace(n, nodes, only)].length;
    if (agents === 1) expect(chunks.length).toBeGreaterThan(periods);
    else expect(chunks.length).toBeGreaterThanOrEqual(periods);
  }
});
