// The aggregator's flags as retrace-aggregator and retrace-operator read them: the store's
// space limits reach the store, and values it would refuse are refused naming the flag.
import { FlagError, FlagParser } from '@retrace/cli-flags';
import { AGGREGATOR_FLAGS } from '../../src/server/aggregator-flags.js';
import { aggregatorServiceOptions } from '../../src/server/aggregator-options.js';

class UsageFailure extends Error {}
const fail = (msg: string): never => {
  throw new UsageFailure(msg);
};
const parser = new FlagParser({ name: 'retrace-aggregator', summary: '', flags: AGGREGATOR_FLAGS });
/** The options from a command line, as retrace-aggregator reads it (with --store and --insecure). */
const opts = (flags: Record<string, string>) => {
  const r = parser.parse([
    '--store',
    '/nonexistent/store',
    '--insecure',
    ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]),
  ]);
  if (!('values' in r)) throw new Error('help instead of values');
  return aggregatorServiceOptions(r.values, fail);
};

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
    new FlagError("--checkpoint-ms must be a whole number from 100 to 60000 (100 is the aggregator's tick), got '50'"),
  );
  expect(() => opts({ 'checkpoint-ms': '60001' })).toThrow(FlagError);
});

test('the query limits: a stream at least, a message of events in flight at least', () => {
  expect(opts({ 'max-queries': '1', 'query-inflight-bytes': '4096', 'query-stall-ms': '0' }).query).toMatchObject({
    maxQueries: 1,
    maxInFlightBytes: 4096,
    stallMs: 0,
  });
  expect(() => opts({ 'max-queries': '0' })).toThrow("--max-queries must be a whole number of at least 1, got '0'");
  expect(() => opts({ 'query-inflight-bytes': '100' })).toThrow(
    "--query-inflight-bytes must be a whole number of at least 4096 (one message of events), got '100'",
  );
});

test('metrics and health listen on the host of --listen, or at --metrics-listen', () => {
  expect(opts({ listen: '127.0.0.1:0', 'metrics-port': '9090' })).toMatchObject({
    metricsHost: '127.0.0.1',
    metricsPort: 9090,
  });
  expect(opts({ 'metrics-listen': '[::1]:9091' })).toMatchObject({ metricsHost: '::1', metricsPort: 9091 });
  expect(opts({})).not.toHaveProperty('metricsPort');
  expect(() => opts({ 'metrics-listen': '9091' })).toThrow("--metrics-listen must be HOST:PORT, got '9091'");
});

test('agents bound to their nodes by default, sharing a certificate without TLS; bound and --insecure refused', () => {
  expect(opts({}).aggregator.agentCerts).toBe('shared');
  expect(() => opts({ 'agent-certs': 'bound' })).toThrow(
    new UsageFailure('--agent-certs bound needs client certificates: it cannot go with --insecure'),
  );
  expect(() => opts({ 'agent-certs': 'loose' })).toThrow("--agent-certs takes bound or shared, got 'loose'");
});
