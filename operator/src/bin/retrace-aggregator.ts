#!/usr/bin/env node
// retrace-aggregator: the agents' gRPC endpoint and the query API on one port, with health and
// Prometheus metrics on another. Without Kubernetes, traces come from --traces FILE (re-read on
// SIGHUP).
import { parseArgs } from 'node:util';
import {
  AgentLinkService,
  QueryService,
  serverCredentials,
  CertificateError,
  startHealthServer,
  flagHelpers,
  type FlagHelpers,
} from '@retrace/events';
import { Aggregator } from '../server/aggregator.js';
import { aggregatorGrpcServer } from '../server/grpc-server.js';
import { queryHandlers } from '../server/query-server.js';
import { readTraceFile, TraceFileError } from '../server/trace-file.js';

const USAGE = `usage: retrace-aggregator --store DIR [--listen HOST:PORT] [--traces FILE]
       [--ca FILE --cert FILE --key FILE | --insecure] [--metrics-port N]
       [--store-cap BYTES] [--lateness-ms N] [--max-buffered N] [--deadline-ms N] [--heartbeat-ms N]`;

const flags = flagHelpers('retrace-aggregator', USAGE);
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: FlagHelpers['fail'] = flags.fail;
const num: FlagHelpers['num'] = flags.num;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        listen: { type: 'string', default: '0.0.0.0:7443' },
        store: { type: 'string' },
        'store-cap': { type: 'string' },
        traces: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        'metrics-port': { type: 'string' },
        'lateness-ms': { type: 'string' },
        'max-buffered': { type: 'string' },
        'deadline-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'ingest-delay-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!args.store) fail('--store DIR is required (where results are kept)');
  let creds;
  try {
    creds = serverCredentials({ ca: args.ca, cert: args.cert, key: args.key, insecure: !!args.insecure });
  } catch (e) {
    if (e instanceof CertificateError) fail(e.message);
    throw e;
  }
  const storeCap = num('store-cap', args['store-cap']);
  const lateness = num('lateness-ms', args['lateness-ms']);
  const maxBuffered = num('max-buffered', args['max-buffered']);
  const deadline = num('deadline-ms', args['deadline-ms']);
  const heartbeat = num('heartbeat-ms', args['heartbeat-ms']);
  const delay = num('ingest-delay-ms', args['ingest-delay-ms']);
  const agg = new Aggregator({
    storeDir: args.store,
    ...(storeCap ? { storeCapBytes: storeCap } : {}),
    ...(lateness !== undefined ? { latenessMs: lateness } : {}),
    ...(maxBuffered ? { maxBufferedEvents: maxBuffered } : {}),
    ...(deadline ? { deadlineMs: deadline } : {}),
    ...(heartbeat ? { heartbeatMs: heartbeat } : {}),
    ...(delay ? { ingestDelayMs: delay } : {}),
  });
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

  const server = aggregatorGrpcServer();
  server.addService(AgentLinkService, { Connect: agg.link.connect });
  server.addService(QueryService, queryHandlers(agg) as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(args.listen, creds, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((e: Error) => fail(`cannot listen on ${args.listen}: ${e.message}`));
  process.stderr.write(
    `listening on ${args.listen.replace(/:\d+$/, '')}:${port} (${args.insecure ? 'insecure' : 'mutual TLS'})\n`,
  );

  const metricsPort = num('metrics-port', args['metrics-port']);
  const health =
    metricsPort !== undefined
      ? await startHealthServer({ port: metricsPort, registry: agg.metrics.registry, notReady: () => '' })
      : undefined;

  const ha = health?.address();
  if (ha && typeof ha === 'object') process.stderr.write(`health and metrics on :${ha.port}\n`);
  process.on('SIGHUP', loadTraces);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: flushing and stopping\n`);
    server.tryShutdown(() => undefined);
    setTimeout(() => server.forceShutdown(), 2000).unref();
    agg.close();
    health?.close();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-aggregator: ${e.message}\n`);
  process.exit(1);
});
