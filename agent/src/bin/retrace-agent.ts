#!/usr/bin/env -S node --max-semi-space-size=2
// (A small young generation: an agent's events die as soon as they are encoded into a batch; with
// the default one it held some 30 MiB more under a sustained 100k events/s, for no CPU saved.)
// retrace-agent: the node agent daemon (one per node, a DaemonSet in a cluster).
import { hostname } from 'node:os';
import { TLS_FLAGS, commaList, daemonFlags, integer, port, text, type Fail } from '@retrace/cli-flags';
import { CertificateError, channelCredentials } from '@retrace/wire';
import { AgentDaemon, NetnsNotFoundError } from '../daemon/daemon.js';
import { PodMapper } from '../k8s/pod-mapper.js';

const flags = daemonFlags({
  name: 'retrace-agent',
  summary:
    "retrace's node agent (one per node, a DaemonSet in a cluster): runs the traces the aggregator assigns " +
    'to this node and sends their events to it.',
  flags: {
    server: text('HOST:PORT', 'the aggregator to connect to (required)', { env: 'RETRACE_SERVER' }),
    'node-name': text('NAME', 'this node, as traces and certificates name it', {
      env: 'NODE_NAME',
      default: hostname(),
      shownDefault: 'the host name',
    }),
    ...TLS_FLAGS,
    'metrics-port': port('serve /healthz, /readyz and /metrics (Prometheus) on this port'),
    'metrics-address': text('HOST', 'where health and metrics listen (default: 0.0.0.0)'),
    'node-netns': commaList(
      'NS,...',
      'the network namespaces (names under /run/netns, or paths) that make up this node, rather than the whole host',
    ),
    'max-buffer-bytes': integer(
      'BYTES',
      'events each trace may hold while the aggregator is behind or away (default: 67108864, 64 MiB)',
    ),
    'orphan-timeout-ms': integer(
      'MS',
      'stop every trace when the aggregator has been unreachable this long (default: 60000)',
    ),
  },
});
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: Fail = flags.fail;

async function main(): Promise<void> {
  const a = flags.values;
  const server = a.server;
  if (!server) fail('--server HOST:PORT is required (the aggregator)');
  const node = a['node-name'];
  const tls = { ca: a.ca, cert: a.cert, key: a.key, insecure: a.insecure };
  try {
    channelCredentials(tls); // certificate problems are reported before anything starts
  } catch (e) {
    if (e instanceof CertificateError) fail(e.message);
    throw e;
  }
  const metricsPort = a['metrics-port'];
  const maxBuffer = a['max-buffer-bytes'];
  const orphan = a['orphan-timeout-ms'];
  let daemon: AgentDaemon;
  try {
    daemon = new AgentDaemon({
      server,
      tls,
      node,
      pods: new PodMapper(),
      ...(a['node-netns']?.length ? { nodeNetns: a['node-netns'] } : {}),
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      // Default 0.0.0.0: the kubelet's probes and Prometheus reach a Pod at its IP.
      ...(a['metrics-address'] ? { metricsHost: a['metrics-address'] } : {}),
      ...(maxBuffer ? { maxBytesPerTrace: maxBuffer } : {}),
      ...(orphan ? { orphanMs: orphan } : {}),
    });
  } catch (e) {
    if (e instanceof NetnsNotFoundError) fail(e.message);
    throw e;
  }
  await daemon.start();
  process.stderr.write(
    `retrace-agent on node ${node}, aggregator ${server}${daemon.healthPort ? `, health and metrics on :${daemon.healthPort}` : ''}\n`,
  );
  let stopping = false;
  const stop = (sig: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: stopping traces\n`);
    void daemon.stop().then(() => process.exit(code));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const refusedCheck = setInterval(() => {
    if (daemon.refused) {
      clearInterval(refusedCheck);
      stop(`refused by the aggregator: ${daemon.refused}`, 1);
    }
  }, 200);
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-agent: ${e.message}\n`);
  process.exit(1);
});
