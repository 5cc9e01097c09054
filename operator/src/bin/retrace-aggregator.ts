#!/usr/bin/env node
// retrace-aggregator: the agents' gRPC endpoint and the query API on one port, with health and
// Prometheus metrics on another. Without Kubernetes, traces come from --traces FILE (re-read on
// SIGHUP).
import { parseArgs } from 'node:util';
import { flagHelpers, type FlagHelpers } from '@retrace/events';
import { AGGREGATOR_FLAGS, AGGREGATOR_USAGE, aggregatorServiceOptions } from '../server/aggregator-flags.js';
import { ListenError, startAggregatorService } from '../server/aggregator-service.js';
import { readTraceFile, TraceFileError } from '../server/trace-file.js';

const USAGE = `usage: retrace-aggregator ${AGGREGATOR_USAGE} [--traces FILE]`;

const flags = flagHelpers('retrace-aggregator', USAGE);
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: FlagHelpers['fail'] = flags.fail;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { ...AGGREGATOR_FLAGS, traces: { type: 'string' } }, strict: true }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const opts = aggregatorServiceOptions(args, fail, flags.num);
  let svc;
  try {
    svc = await startAggregatorService(opts);
  } catch (e) {
    if (e instanceof ListenError) fail(e.message);
    throw e;
  }
  const { agg } = svc;
  const loadTraces = (): void => {
    if (!args.traces) return;
    try {
      agg.setTraces(readTraceFile(args.traces));
      process.stderr.write(`traces from ${args.traces}: ${agg.traceNames().join(', ') || 'none'}\n`);
    } catch (e) {
      if (!(e instanceof TraceFileError)) throw e;
      process.stderr.write(`error: ${e.message} (traces unchanged)\n`);
    }
  };
  loadTraces();
  process.stderr.write(
    `listening on ${opts.listen.replace(/:\d+$/, '')}:${svc.port} (${args.insecure ? 'insecure' : 'mutual TLS'})\n`,
  );
  const ha = svc.health?.address();
  if (ha && typeof ha === 'object') process.stderr.write(`health and metrics on :${ha.port}\n`);
  process.on('SIGHUP', loadTraces);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: flushing and stopping\n`);
    svc.close();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-aggregator: ${e.message}\n`);
  process.exit(1);
});
