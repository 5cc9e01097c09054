// The sort benchmark runs (its numbers are for `node operator/dist/aggregator/bench-sort.js`, not
// asserted here): every synthetic ping crosses two nodes and must come out stitched.
import { benchSort, syntheticTrace } from '../../src/journeys/index.js';

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
