// The aggregator's command-line flags, shared by retrace-aggregator and retrace-operator (which
// runs the aggregator in its own process unless told where a separate one is: then only the TLS
// flags and --metrics-port apply to it, see SEPARATE_REFUSED).
import { serverCredentials, CertificateError, type FlagHelpers } from '@retrace/events';
import type { startAggregatorService } from './aggregator-service.js';

export const AGGREGATOR_USAGE = `--store DIR [--listen HOST:PORT]
       [--ca FILE --cert FILE --key FILE | --insecure] [--metrics-port N]
       [--store-cap BYTES] [--lateness-ms N] [--max-buffered N] [--deadline-ms N] [--heartbeat-ms N]`;

export const AGGREGATOR_FLAGS = {
  listen: { type: 'string' }, // default 0.0.0.0:7443 (aggregatorServiceOptions)
  store: { type: 'string' },
  'store-cap': { type: 'string' },
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
} as const;

/** Flags of an aggregator's own, refused by retrace-operator --aggregator (it runs none). */
export const SEPARATE_REFUSED = [
  'listen',
  'store',
  'store-cap',
  'lateness-ms',
  'max-buffered',
  'deadline-ms',
  'heartbeat-ms',
  'ingest-delay-ms',
] as const;

type Values = {
  [K in keyof typeof AGGREGATOR_FLAGS]?: (typeof AGGREGATOR_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** What startAggregatorService needs, from the flags (a usage error through `fail`). */
export function aggregatorServiceOptions(
  args: Values,
  fail: FlagHelpers['fail'],
  num: FlagHelpers['num'],
): Parameters<typeof startAggregatorService>[0] {
  if (!args.store) return fail('--store DIR is required (where results are kept)');
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
  const metricsPort = num('metrics-port', args['metrics-port']);
  return {
    listen: args.listen ?? '0.0.0.0:7443',
    creds,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    aggregator: {
      storeDir: args.store,
      ...(storeCap ? { storeCapBytes: storeCap } : {}),
      ...(lateness !== undefined ? { latenessMs: lateness } : {}),
      ...(maxBuffered ? { maxBufferedEvents: maxBuffered } : {}),
      ...(deadline ? { deadlineMs: deadline } : {}),
      ...(heartbeat ? { heartbeatMs: heartbeat } : {}),
      ...(delay ? { ingestDelayMs: delay } : {}),
    },
  };
}
