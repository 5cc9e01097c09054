// The aggregator's command-line flags, shared by retrace-aggregator and retrace-operator (which
// runs the aggregator in its own process unless told where a separate one is: then only the TLS
// flags and --metrics-port apply to it, see SEPARATE_REFUSED). Only the table: it loads neither
// gRPC nor the Kubernetes client, so that --help and usage errors answer at once
// (aggregator-options.ts turns the values into the service's options).
import { TLS_FLAGS, address, choice, commaList, integer, port, text, type FlagValues } from '@retrace/cli-flags';
import { DEFAULT_CAP_BYTES } from '../store/options.js';
import { DEFAULT_AGENT_IDENTITIES } from './query-authorizer.js';
import { DEFAULT_INFLIGHT_BYTES, DEFAULT_MAX_QUERIES, DEFAULT_STALL_MS } from './query-limits.js';

export const DEFAULT_LISTEN = '0.0.0.0:7443';

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

export type AggregatorFlagValues = FlagValues<typeof AGGREGATOR_FLAGS>;
