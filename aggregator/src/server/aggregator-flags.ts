// The aggregator's command-line flags, shared by retrace-aggregator and retrace-operator (which
// runs the aggregator in its own process unless told where a separate one is: then only the TLS
// flags and --metrics-port apply to it, see SEPARATE_REFUSED).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  TLS_FLAGS,
  address,
  choice,
  commaList,
  integer,
  port,
  splitHostPort,
  text,
  type Fail,
  type FlagValues,
} from '@retrace/cli-flags';
import { serverCredentials, CertificateError } from '@retrace/wire';
import type { startAggregatorService } from './aggregator-service.js';
import { DEFAULT_CAP_BYTES } from '../store/index.js';
import { KubernetesAuthorizer, KubernetesAuthorizerError } from './kubernetes-authorizer.js';
import { CertificateRoleAuthorizer, DEFAULT_AGENT_IDENTITIES, type QueryAuthorizer } from './query-authorizer.js';
import { DEFAULT_INFLIGHT_BYTES, DEFAULT_MAX_QUERIES, DEFAULT_STALL_MS } from './query-server.js';

const DEFAULT_LISTEN = '0.0.0.0:7443';

export const AGGREGATOR_FLAGS = {
  store: text('DIR', 'where results are kept (required)'),
  listen: address(`the agents' link, the query API and the control API (default: ${DEFAULT_LISTEN})`),
  ...TLS_FLAGS,
  'metrics-port': port('serve /healthz, /readyz and /metrics (Prometheus) on this port'),
  'metrics-listen': address('health and metrics on this HOST:PORT instead (default: the host of --listen)'),
  'agent-certs': choice(
    'MODE',
    "bound: an agent's certificate names its node (NODE.nodes.retrace) and it may register as that node only; " +
      'shared: one certificate for every agent (default: bound; shared with --insecure)',
    ['bound', 'shared'],
  ),
  // The store's space (trace-store.ts).
  'store-cap': integer('BYTES', `the space of each trace's results (default: ${DEFAULT_CAP_BYTES})`),
  'store-total-cap': integer('BYTES', 'the space of all traces together (default: 4 x --store-cap)'),
  'node-floor': integer(
    'BYTES',
    "the least share of a trace's space each node keeps (default: 1 MiB, or --store-cap / 8 if less)",
  ),
  // Sorting into journeys (journey-sorter.ts) and the agents' link.
  'lateness-ms': integer('MS', 'how long a journey waits for the slower nodes before it is released (default: 1000)'),
  'max-buffered': integer(
    'N',
    'events of a trace held for sorting at most; beyond, the oldest journeys go early (default: 200000)',
  ),
  'deadline-ms': integer('MS', "an agent's stream silent this long is ended (default: 5000)"),
  'heartbeat-ms': integer('MS', 'how often the aggregator sends each agent a heartbeat (default: 1000)'),
  'checkpoint-ms': integer(
    'MS',
    "how often the store is synced and the agents' batches acknowledged; agents hold what is not (default: 500)",
    { min: 100, max: 60_000, why: "100 is the aggregator's tick" },
  ),
  'ingest-delay-ms': integer('MS', 'wait this long before taking in each batch (tests of a slow aggregator)'),
  // The query API (query-server.ts): streams at once, bytes in flight per stream, who is an agent
  // (refused), and reading a trace checked against Kubernetes RBAC.
  'max-queries': integer('N', `query streams served at once (default: ${DEFAULT_MAX_QUERIES})`, { min: 1 }),
  'query-inflight-bytes': integer(
    'BYTES',
    `bytes a query stream may have written and not yet taken by its client (default: ${DEFAULT_INFLIGHT_BYTES})`,
    { min: 4096, why: 'one message of events' },
  ),
  'query-stall-ms': integer(
    'MS',
    `a query client that takes nothing this long loses its stream (default: ${DEFAULT_STALL_MS}; 0: never)`,
  ),
  'agent-identities': commaList(
    'NAME,...',
    `certificate names (CN or DNS) of agents, refused by the query API (default: ${DEFAULT_AGENT_IDENTITIES.join(',')})`,
  ),
  'query-authz': choice(
    'MODE',
    'kubernetes: reading a trace needs get on it in Kubernetes RBAC (a bearer token or the client certificate)',
    ['kubernetes'],
    'reading a trace needs get on it in Kubernetes RBAC',
  ),
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
] as const satisfies readonly (keyof typeof AGGREGATOR_FLAGS)[];

type Values = FlagValues<typeof AGGREGATOR_FLAGS>;

/** What startAggregatorService needs, from the flags (a usage error through `fail`). */
export function aggregatorServiceOptions(args: Values, fail: Fail): Parameters<typeof startAggregatorService>[0] {
  if (!args.store) return fail('--store DIR is required (where results are kept)');
  // Readers known by a Kubernetes token need no certificate: the TLS asks for one without
  // requiring it, and the agent link and control API refuse calls that bring none.
  const tokenReaders = args['query-authz'] === 'kubernetes' && !args.insecure;
  let creds;
  try {
    creds = serverCredentials(
      { ca: args.ca, cert: args.cert, key: args.key, insecure: args.insecure },
      { clientCertificates: tokenReaders ? 'optional' : 'required' },
    );
  } catch (e) {
    if (e instanceof CertificateError) fail(e.message);
    throw e;
  }
  const storeCap = args['store-cap'];
  const totalCap = args['store-total-cap'];
  const nodeFloor = args['node-floor'];
  // The store's own checks, said with the flags' names.
  const perTrace = storeCap || DEFAULT_CAP_BYTES;
  if (totalCap && totalCap < perTrace)
    fail(`--store-total-cap (${totalCap}) must be at least --store-cap (${perTrace}): it caps all traces together`);
  if (nodeFloor !== undefined && nodeFloor > perTrace)
    fail(
      `--node-floor (${nodeFloor}) must be at most --store-cap (${perTrace}): it is a node's least share of a trace`,
    );
  const agentCerts = args['agent-certs'] ?? (args.insecure ? 'shared' : 'bound');
  if (agentCerts === 'bound' && args.insecure)
    return fail('--agent-certs bound needs client certificates: it cannot go with --insecure');
  const listen = args.listen ?? DEFAULT_LISTEN;
  // Metrics and health answer where gRPC does unless told otherwise: an aggregator kept on
  // loopback does not show its node and trace names to the network.
  const metricsAt = args['metrics-listen'] ? splitHostPort('--metrics-listen', args['metrics-listen']) : undefined;
  const metricsHost = metricsAt?.host ?? splitHostPort('--listen', listen).host;
  const metricsPort = metricsAt?.port ?? args['metrics-port'];
  const authorizers: QueryAuthorizer[] = [
    new CertificateRoleAuthorizer(args['agent-identities'] ?? DEFAULT_AGENT_IDENTITIES),
  ];
  if (args['query-authz'] === 'kubernetes') {
    try {
      // The aggregator's own certificate reads everything (kubernetes-authorizer.ts ownCertificates).
      const own = args.cert ? [new X509Certificate(readFileSync(args.cert)).fingerprint256] : [];
      authorizers.push(KubernetesAuthorizer.fromDefault({ ownCertificates: own }));
    } catch (e) {
      if (e instanceof KubernetesAuthorizerError) fail(`--query-authz kubernetes: ${e.message}`);
      throw e;
    }
  }
  const maxBuffered = args['max-buffered'];
  const deadline = args['deadline-ms'];
  const heartbeat = args['heartbeat-ms'];
  const delay = args['ingest-delay-ms'];
  return {
    listen,
    creds,
    ...(metricsPort !== undefined ? { metricsPort, metricsHost } : {}),
    aggregator: {
      storeDir: args.store,
      ...(storeCap ? { storeCapBytes: storeCap } : {}),
      ...(totalCap ? { storeTotalCapBytes: totalCap } : {}),
      ...(nodeFloor !== undefined ? { nodeFloorBytes: nodeFloor } : {}),
      ...(args['lateness-ms'] !== undefined ? { latenessMs: args['lateness-ms'] } : {}),
      ...(maxBuffered ? { maxBufferedEvents: maxBuffered } : {}),
      ...(deadline ? { deadlineMs: deadline } : {}),
      ...(heartbeat ? { heartbeatMs: heartbeat } : {}),
      // How often the store is synced and batches acknowledged (a group commit): agents hold what
      // is not acknowledged meanwhile.
      ...(args['checkpoint-ms'] !== undefined ? { checkpointMs: args['checkpoint-ms'] } : {}),
      ...(delay ? { ingestDelayMs: delay } : {}),
      agentCerts,
      ...(tokenReaders ? { clientCertificatesOptional: true } : {}),
    },
    query: {
      ...(args['max-queries'] !== undefined ? { maxQueries: args['max-queries'] } : {}),
      ...(args['query-inflight-bytes'] !== undefined ? { maxInFlightBytes: args['query-inflight-bytes'] } : {}),
      ...(args['query-stall-ms'] !== undefined ? { stallMs: args['query-stall-ms'] } : {}),
      authorizers,
    },
  };
}
