// The aggregator's flags as retrace-aggregator and retrace-operator read them: the store's
// space limits reach the store, and values it would refuse are refused naming the flag.
import { aggregatorServiceOptions } from '../../src/server/aggregator-flags.js';

class UsageFailure extends Error {}
const fail = (msg: string): never => {
  throw new UsageFailure(msg);
};
const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageFailure(`--${name} must be a whole number, got '${v}'`);
  return Number(v);
};
const opts = (flags: Record<string, string>) =>
  aggregatorServiceOptions({ store: '/nonexistent/store', insecure: true, ...flags }, fail, num);

test('--store-cap, --store-total-cap and --node-floor reach the aggregator', () => {
  const o = opts({ 'store-cap': '1048576', 'store-total-cap': '4194304', 'node-floor': '65536' });
  expect(o.aggregator).toMatchObject({ storeCapBytes: 1048576, storeTotalCapBytes: 4194304, nodeFloorBytes: 65536 });
  expect(opts({}).aggregator).not.toHaveProperty('storeTotalCapBytes');
});

test('a total cap below the per-trace cap, or a floor above it, is refused with both values', () => {
  expect(() => opts({ 'store-cap': '1048576', 'store-total-cap': '1000' })).toThrow(
    '--store-total-cap (1000) must be at least --store-cap (1048576): it caps all traces together',
  );
  // Without --store-cap, against the store's default of 256 MiB.
  expect(() => opts({ 'node-floor': String(512 * 1024 * 1024) })).toThrow(
    `--node-floor (${512 * 1024 * 1024}) must be at most --store-cap (${256 * 1024 * 1024})`,
  );
});

test('--checkpoint-ms sets the group commit; below the tick or above a minute is refused', () => {
  expect(opts({ 'checkpoint-ms': '100' }).aggregator).toMatchObject({ checkpointMs: 100 });
  expect(opts({}).aggregator).not.toHaveProperty('checkpointMs');
  expect(() => opts({ 'checkpoint-ms': '50' })).toThrow(
    "--checkpoint-ms must be from 100 (the aggregator's tick) to 60000, got 50",
  );
});
