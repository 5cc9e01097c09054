// The aggregator's command-line flags, shared by retrace-aggregator and retrace-operator (which
// runs the aggregator in its own process unless told where a separate one is: then only the TLS
// flags and --metrics-port apply to it, see SEPARATE_REFUSED).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serverCredentials, CertificateError, type FlagHelpers } from '@retrace/events';
import type { startAggregatorService } from './aggregator-service.js';
import { DEFAULT_CAP_BYTES } from '../aggregator/store/index.js';
import { KubernetesAuthorizer, KubernetesAuthorizerError } from './kubernetes-authorizer.js';
import { CertificateRoleAuthorizer, DEFAULT_AGENT_IDENTITIES, type QueryAuthorizer } from './query-authorizer.js';

export const AGGREGATOR_USAGE = `--store DIR [--listen HOST:PORT]
       [--ca FILE --cert FILE --key FILE | --insecure] [--metrics-port N]
       [--store-cap BYTES] [--store-total-cap BYTES] [--node-floor BYTES]
       [--lateness-ms N] [--max-buffered N] [--deadline-ms N] [--heartbeat-ms N] [--checkpoint-ms N]
       [--max-queries N] [--query-inflight-bytes BYTES] [--query-stall-ms N]
       [--agent-identities NAME,...] [--query-authz kubernetes]`;

export const AGGREGATOR_FLAGS = {
  listen: { type: 'string' }, // default 0.0.0.0:7443 (aggregatorServiceOptions)
  store: { type: 'string' },
  'store-cap': { type: 'string' },
  'store-total-cap': { type: 'string' },
  'node-floor': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  'metrics-port': { type: 'string' },
  'lateness-ms': { type: 'string' },
  'max-buffered': { type: 'string' },
  'deadline-ms': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'checkpoint-ms': { type: 'string' },
  'ingest-delay-ms': { type: 'string' },
  'agent-certs': { type: 'string' },
  'metrics-listen': { type: 'string' },
  // The query API (query-server.ts): streams at once, bytes in flight per stream, who is an agent
  // (refused), and reading a trace checked against Kubernetes RBAC.
  'max-queries': { type: 'string' },
  'query-inflight-bytes': { type: 'string' },
  'query-stall-ms': { type: 'string' },
  'agent-identities': { type: 'string' },
  'query-authz': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Flags of an aggregator's own, refused by retrace-operator --aggregator (it runs none). */
export const SEPARATE_REFUSED = [
  'listen',
  'store',
  'store-cap',
  'store-total-cap',
  'node-floor',
  'lateness-ms',
  'max-buffered',
  'deadline-ms',
  'heartbeat-ms',
  'checkpoint-ms',
  'ingest-delay-ms',
  'max-queries',
  'query-inflight-bytes',
  'query-stall-ms',
  'agent-identities',
  'query-authz',
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
  // Readers known by a Kubernetes token need no certificate: the TLS asks for one without
  // requiring it, and the agent link and control API refuse calls that bring none.
  const tokenReaders = args['query-authz'] === 'kubernetes' && !args.insecure;
  let creds;
  try {
    creds = serverCredentials(
      { ca: args.ca, cert: args.cert, key: args.key, insecure: !!args.insecure },
      { clientCertificates: tokenReaders ? 'optional' : 'required' },
    );
  } catch (e) {
    if (e instanceof CertificateError) fail(e.message);
    throw e;
  }
  const storeCap = num('store-cap', args['store-cap']);
  const totalCap = num('store-total-cap', args['store-total-cap']);
  const nodeFloor = num('node-floor', args['node-floor']);
  // The store's own checks, said with the flags' names.
  const perTrace = storeCap || DEFAULT_CAP_BYTES;
  if (totalCap && totalCap < perTrace)
    fail(`--store-total-cap (${totalCap}) must be at least --store-cap (${perTrace}): it caps all traces together`);
  if (nodeFloor !== undefined && nodeFloor > perTrace)
    fail(
      `--node-floor (${nodeFloor}) must be at most --store-cap (${perTrace}): it is a node's least share of a trace`,
    );
  const lateness = num('lateness-ms', args['lateness-ms']);
  const maxBuffered = num('max-buffered', args['max-buffered']);
  const deadline = num('deadline-ms', args['deadline-ms']);
  const heartbeat = num('heartbeat-ms', args['heartbeat-ms']);
  // How often the store is synced and batches acknowledged (a group commit): agents hold what is
  // not acknowledged meanwhile.
  const checkpoint = num('checkpoint-ms', args['checkpoint-ms']);
  if (checkpoint !== undefined && (checkpoint < 100 || checkpoint > 60_000))
    fail(`--checkpoint-ms must be from 100 (the aggregator's tick) to 60000, got ${checkpoint}`);
  const delay = num('ingest-delay-ms', args['ingest-delay-ms']);
  const metricsPort = num('metrics-port', args['metrics-port']);
  const agentCerts = args['agent-certs'] ?? (args.insecure ? 'shared' : 'bound');
  if (agentCerts !== 'bound' && agentCerts !== 'shared')
    return fail(`--agent-certs must be bound or shared, got ${JSON.stringify(agentCerts)}`);
  if (agentCerts === 'bound' && args.insecure)
    return fail('--agent-certs bound needs client certificates: it cannot go with --insecure');
  const listen = args.listen ?? '0.0.0.0:7443';
  // Metrics and health answer where gRPC does unless told otherwise: an aggregator kept on
  // loopback does not show its node and trace names to the network.
  const metricsHost = args['metrics-listen'] ? hostOf(args['metrics-listen'], fail) : hostOf(listen, fail);
  const metricsListenPort = args['metrics-listen'] ? portOf(args['metrics-listen'], fail) : metricsPort;
  const maxQueries = num('max-queries', args['max-queries']);
  const inFlight = num('query-inflight-bytes', args['query-inflight-bytes']);
  const stall = num('query-stall-ms', args['query-stall-ms']);
  if (maxQueries !== undefined && maxQueries < 1) fail(`--max-queries must be at least 1, got ${maxQueries}`);
  if (inFlight !== undefined && inFlight < 4096)
    fail(`--query-inflight-bytes must be at least 4096 (one message of events), got ${inFlight}`);
  const agents =
    args['agent-identities'] !== undefined
      ? args['agent-identities']
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x)
      : DEFAULT_AGENT_IDENTITIES;
  const authorizers: QueryAuthorizer[] = [new CertificateRoleAuthorizer(agents)];
  const authz = args['query-authz'];
  if (authz !== undefined && authz !== 'kubernetes')
    fail(`--query-authz takes kubernetes (reading a trace needs get on it in Kubernetes RBAC), got '${authz}'`);
  if (authz === 'kubernetes') {
    try {
      // The aggregator's own certificate reads everything (kubernetes-authorizer.ts ownCertificates).
      const own = args.cert ? [new X509Certificate(readFileSync(args.cert)).fingerprint256] : [];
      authorizers.push(KubernetesAuthorizer.fromDefault({ ownCertificates: own }));
    } catch (e) {
      if (e instanceof KubernetesAuthorizerError) fail(`--query-authz kubernetes: ${e.message}`);
      throw e;
    }
  }
  return {
    listen,
    creds,
    ...(metricsListenPort !== undefined ? { metricsPort: metricsListenPort, metricsHost } : {}),
    aggregator: {
      storeDir: args.store,
      ...(storeCap ? { storeCapBytes: storeCap } : {}),
      ...(totalCap ? { storeTotalCapBytes: totalCap } : {}),
      ...(nodeFloor !== undefined ? { nodeFloorBytes: nodeFloor } : {}),
      ...(lateness !== undefined ? { latenessMs: lateness } : {}),
      ...(maxBuffered ? { maxBufferedEvents: maxBuffered } : {}),
      ...(deadline ? { deadlineMs: deadline } : {}),
      ...(heartbeat ? { heartbeatMs: heartbeat } : {}),
      ...(checkpoint !== undefined ? { checkpointMs: checkpoint } : {}),
      ...(delay ? { ingestDelayMs: delay } : {}),
      agentCerts,
      ...(tokenReaders ? { clientCertificatesOptional: true } : {}),
    },
    query: {
      ...(maxQueries !== undefined ? { maxQueries } : {}),
      ...(inFlight !== undefined ? { maxInFlightBytes: inFlight } : {}),
      ...(stall !== undefined ? { stallMs: stall } : {}),
      authorizers,
    },
  };
}

function hostOf(hostPort: string, fail: FlagHelpers['fail']): string {
  const i = hostPort.lastIndexOf(':');
  if (i < 0) return fail(`${hostPort}: give HOST:PORT`);
  return hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1');
}

function portOf(hostPort: string, fail: FlagHelpers['fail']): number {
  const p = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  if (!Number.isInteger(p) || p < 0 || p > 65535) return fail(`${hostPort}: the port must be 0-65535`);
  return p;
}
