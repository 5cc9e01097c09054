// From the aggregator's flags (aggregator-flags.ts) to startAggregatorService's options: every
// check a flag's type cannot make, said with the flags' names.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { splitHostPort, type Fail } from '@retrace/cli-flags';
import { serverCredentials, CertificateError } from '@retrace/wire';
import { DEFAULT_CAP_BYTES } from '../store/options.js';
import { DEFAULT_LISTEN, type AggregatorFlagValues } from './aggregator-flags.js';
import type { startAggregatorService } from './aggregator-service.js';
import { KubernetesAuthorizer, KubernetesAuthorizerError } from './kubernetes-authorizer.js';
import { CertificateRoleAuthorizer, DEFAULT_AGENT_IDENTITIES, type QueryAuthorizer } from './query-authorizer.js';

/** What startAggregatorService needs, from the flags (a usage error through `fail`). */
export function aggregatorServiceOptions(
  args: AggregatorFlagValues,
  fail: Fail,
): Parameters<typeof startAggregatorService>[0] {
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
