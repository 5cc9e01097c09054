// The monotonic -> wall-clock offset agents register with. Two agents on one machine (nodes as
// network namespaces, or a real cluster's nodes under one time source) must agree far more
// closely than a packet takes between them, or the aggregator orders their hops wrongly.
import { monotonicClockOffset } from '../src/index.js';

test('the offset puts the monotonic clock on the wall clock', () => {
  const coarse = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  const { offsetNs } = monotonicClockOffset();
  const diff = offsetNs - coarse;
  expect(diff < 2_000_000n && diff > -2_000_000n).toBe(true);
});

test('repeated readings agree to a few microseconds', () => {
  const readings: bigint[] = [];
  for (let i = 0; i < 50; i++) {
    const r = monotonicClockOffset();
    expect(r.uncertaintyNs).toBeLessThan(20_000);
    readings.push(r.offsetNs);
  }
  const spread = readings.reduce((m, r) => (r > m ? r : m)) - readings.reduce((m, r) => (r < m ? r : m));
  // Date.now() alone spreads up to 1 ms; the millisecond-edge method in JavaScript up to 160 us under load.
  expect(spread < 5_000n).toBe(true);
});
