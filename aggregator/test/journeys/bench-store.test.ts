// The store benchmark runs (its numbers are for `node operator/dist/aggregator/bench-store.js`,
// not asserted here): every synthetic event goes into the store.
import { benchStore, syntheticJourneys } from '../../src/journeys/bench-store.js';

test('benchStore stores every event of the synthetic trace and reports both rates', () => {
  const journeys = syntheticJourneys(8000);
  expect(journeys.reduce((n, j) => n + j.events.length, 0)).toBe(8000);
  const r = benchStore(8000, 1);
  expect(r.events).toBe(8000);
  expect(r.bytes).toBeGreaterThan(8000 * 100);
  expect(r.eventsPerSec).toBeGreaterThan(0);
  expect(r.baselineEventsPerSec).toBeGreaterThan(0);
});
