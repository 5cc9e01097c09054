#!/usr/bin/env node
// retrace-agent: the node agent daemon (one per node, a DaemonSet in a cluster).
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { flagHelpers, type FlagHelpers } from '@retrace/events';
import { CertificateError, channelCredentials } from '@retrace/wire';
import { AgentDaemon, NetnsNotFoundError } from '../daemon/daemon.js';
import { PodMapper } from '../k8s/pod-mapper.js';

const USAGE = `usage: retrace-agent --server HOST:PORT [--node-name NAME]
       [--ca FILE --cert FILE --key FILE | --insecure] [--metrics-port N] [--metrics-address HOST]
       [--node-netns NS,...] [--max-buffer-bytes N] [--orphan-timeout-ms N]`;

const flags = flagHelpers('retrace-agent', USAGE);
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: FlagHelpers['fail'] = flags.fail;
const num: FlagHelpers['num'] = flags.num;

async function main(): Promise<void> {
  let a;
  try {
    a = parseArgs({
      options: {
        server: { type: 'string' },
        'node-name': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        'metrics-port': { type: 'string' },
        'metrics-address': { type: 'string' },
        'node-netns': { type: 'string' },
        'max-buffer-bytes': { type: 'string' },
        'orphan-timeout-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (a.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const server = a.server ?? process.env.RETRACE_SERVER;
  if (!server) fail('--server HOST:PORT is required (the aggregator)');
  const node = a['node-name'] ?? process.env.NODE_NAME ?? hostname();
  const tls = { ca: a.ca, cert: a.cert, key: a.key, insecure: !!a.insecure };
  try {
    channelCredentials(tls); // certificate problems are reported before anything starts
  } catch (e) {
    if (e instanceof CertificateError) fail(e.message);
    throw e;
  }
  const metricsPort = num('metrics-port', a['metrics-port']);
  const maxBuffer = num('max-buffer-bytes', a['max-buffer-bytes']);
  const orphan = num('orphan-timeout-ms', a['orphan-timeout-ms']);
  let daemon: AgentDaemon;
  try {
    daemon = new AgentDaemon({
      server,
      tls,
      node,
      pods: new PodMapper(),
      ...(a['node-netns'] ? { nodeNetns: a['node-netns'].split(',').filter(Boolean) } : {}),
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
