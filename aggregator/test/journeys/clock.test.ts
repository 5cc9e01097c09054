// Node clocks disagree by more than a packet takes between nodes; packets seen on two nodes must
// bring them back in line (to within the one-way delay), and never show an arrival before its
// departure.
import { ClockError, ClusterClock } from '../../src/journeys/index.js';

const MS = 1_000_000n;
const US = 1_000n;
const BOOT = 1_732_000_000_000_000_000n; // wall clock minus CLOCK_MONOTONIC, as agents register it
const DELAY = 100n * US; // true one-way delay between the nodes

/**
 * Node `name` whose registered boot offset is `errorNs` off (its NTP sync is that bad): its
 * monotonic reading at true cluster time T is T - BOOT, the clock says T + errorNs.
 */
function world(errors: Record<string, bigint>): { clock: ClusterClock; mono: (t: bigint) => bigint } {
  const clock = new ClusterClock();
  for (const [name, err] of Object.entries(errors)) clock.setBootOffset(name, BOOT + err);
  return { clock, mono: (t) => t - BOOT };
}

/** Packets sent at true times `at` from `from` to `to`, seen on `to` DELAY + jitter later. */
function hops(clock: ClusterClock, mono: (t: bigint) => bigint, from: string, to: string, at: bigint[]): void {
  at.forEach((t, i) => clock.observeHop(from, mono(t), to, mono(t + DELAY + BigInt(i % 5) * 30n * US)));
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);
const T0 = BOOT + 3600n * 1000n * MS;
const times = (n: number): bigint[] => Array.from({ length: n }, (_, i) => T0 + BigInt(i) * 10n * MS);

test('a node whose boot offset is 3 ms off is corrected from packets both ways, to within the one-way delay', () => {
  const { clock, mono } = world({ a: 0n, b: 3n * MS });
  const t = T0 + 5n * MS;
  expect(clock.toCluster('b', mono(t)) - t).toBe(3n * MS); // before: B's events look 3 ms late
  hops(clock, mono, 'a', 'b', times(20));
  hops(clock, mono, 'b', 'a', times(20));
  expect(clock.reference).toBe('a');
  expect(clock.correction('a')).toBe(0n);
  expect(abs(clock.correction('b') + 3n * MS)).toBeLessThan(DELAY);
  expect(abs(clock.toCluster('b', mono(t)) - t)).toBeLessThan(DELAY);
  // A packet from A to B now arrives after it left, and not later than it really did.
  const dep = clock.toCluster('a', mono(t));
  const arr = clock.toCluster('b', mono(t + DELAY));
  expect(arr).toBeGreaterThan(dep);
  expect(arr - dep).toBeLessThanOrEqual(2n * DELAY);
});

test('corrections spread through a chain of nodes', () => {
  const { clock, mono } = world({ a: 0n, b: -2n * MS, c: 5n * MS });
  hops(clock, mono, 'a', 'b', times(10));
  hops(clock, mono, 'b', 'a', times(10));
  hops(clock, mono, 'b', 'c', times(10));
  hops(clock, mono, 'c', 'b', times(10));
  expect(abs(clock.correction('b') - 2n * MS)).toBeLessThan(DELAY);
  expect(abs(clock.correction('c') + 5n * MS)).toBeLessThan(2n * DELAY);
});

test('with packets one way only, causality is restored: arrivals come after departures', () => {
  const { clock, mono } = world({ a: 0n, b: -2n * MS }); // B looks 2 ms early: arrivals before departures
  const t = T0;
  expect(clock.toCluster('b', mono(t + DELAY))).toBeLessThan(clock.toCluster('a', mono(t)));
  hops(clock, mono, 'a', 'b', times(10));
  expect(clock.correction('b')).toBeGreaterThan(0n);
  for (const s of times(10))
    expect(clock.toCluster('b', mono(s + DELAY))).toBeGreaterThan(clock.toCluster('a', mono(s)));
  // One way only cannot tell delay from clock error: a positive minimum is left as it is.
  const ok = world({ a: 0n, b: 1n * MS });
  hops(ok.clock, ok.mono, 'a', 'b', times(10));
  expect(ok.clock.correction('b')).toBe(0n);
});

test('a new boot offset (agent restart) forgets the measurements made against the old one', () => {
  const { clock, mono } = world({ a: 0n, b: 3n * MS });
  hops(clock, mono, 'a', 'b', times(5));
  hops(clock, mono, 'b', 'a', times(5));
  expect(clock.correction('b')).not.toBe(0n);
  const v = clock.version;
  clock.setBootOffset('b', BOOT); // re-registered, now right
  expect(clock.correction('b')).toBe(0n);
  expect(clock.version).toBeGreaterThan(v);
});

test('timestamps of a node that never registered are refused with what to do', () => {
  const clock = new ClusterClock();
  expect(() => clock.toCluster('ghost', 1n)).toThrow(ClockError);
  expect(() => clock.toCluster('ghost', 1n)).toThrow(/"ghost" has no boot offset: register it \(setBootOffset/);
});
