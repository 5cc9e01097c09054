// The monotonic -> wall-clock offset agents register with: finer than Date.now()'s milliseconds,
// so two nodes on one clock are not put a millisecond apart.
import { monotonicClockOffset } from '../src/index.js';

const ns = (o: { sec: bigint; nsec: bigint }): bigint => o.sec * 1_000_000_000n + o.nsec;

test('the offset matches the wall clock, and repeated readings agree to well under a millisecond', () => {
  const coarse = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  const readings = Array.from({ length: 5 }, () => ns(monotonicClockOffset()));
  for (const r of readings) expect(r - coarse < 2_000_000n && coarse - r < 2_000_000n).toBe(true);
  const spread = readings.reduce((m, r) => (r > m ? r : m)) - readings.reduce((m, r) => (r < m ? r : m));
  // Date.now() alone spreads up to 1 ms (it truncates to whole milliseconds).
  expect(spread < 200_000n).toBe(true);
});
