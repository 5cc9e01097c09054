#!/usr/bin/env node
// retrace-operator: the Trace and ClusterTrace controller, with the aggregator in the same
// process (agents dial this process). Kubernetes access from KUBECONFIG or the Pod's service
// account; with --leader-elect only the replica holding the Lease reconciles.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { flagHelpers, type FlagHelpers } from '@retrace/events';
import { KubeApi } from '../controller/kube-api.js';
import { LeaderElector } from '../controller/leader-election.js';
import { OperatorMetrics } from '../controller/operator-metrics.js';
import { TraceController } from '../controller/controller.js';
import { AGGREGATOR_FLAGS, AGGREGATOR_USAGE, aggregatorServiceOptions } from '../server/aggregator-flags.js';
import { ListenError, startAggregatorService } from '../server/aggregator-service.js';

const USAGE = `usage: retrace-operator ${AGGREGATOR_USAGE}
       [--advertise HOST:PORT] [--status-interval-ms N] [--relist-ms N]
       [--leader-elect --lease-namespace NS [--lease-name NAME] [--identity ID]]`;

const flags = flagHelpers('retrace-operator', USAGE);
const fail: FlagHelpers['fail'] = flags.fail;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        ...AGGREGATOR_FLAGS,
        advertise: { type: 'string' },
        'status-interval-ms': { type: 'string' },
        'relist-ms': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string', default: 'retrace-operator' },
        identity: { type: 'string', default: `${hostname()}-${process.pid}` },
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
  if (args['leader-elect'] && !args['lease-namespace'])
    fail('--leader-elect needs --lease-namespace (the namespace the operator runs in)');
  const opts = aggregatorServiceOptions(args, fail, flags.num);
  const statusInterval = flags.num('status-interval-ms', args['status-interval-ms']);
  const relist = flags.num('relist-ms', args['relist-ms']);
  let api: KubeApi;
  try {
    api = KubeApi.fromDefault();
  } catch (e) {
    fail(`no Kubernetes API to talk to: ${(e as Error).message} (set KUBECONFIG, or run in a Pod)`);
  }
  let leading = !args['leader-elect'];
  let svc;
  try {
    svc = await startAggregatorService({
      ...opts,
      notReady: () => (leading ? '' : 'not the leader'),
    });
  } catch (e) {
    if (e instanceof ListenError) fail(e.message);
    throw e;
  }
  const { agg } = svc;
  const address = args.advertise ?? opts.listen.replace(/:\d+$/, `:${svc.port}`);
  const metrics = new OperatorMetrics(agg.metrics.registry);
  const controller = new TraceController(
    api,
    {
      setTraces: (specs) => agg.setTraces(specs),
      summary: (name) => (agg.traceNames().includes(name) ? agg.summary(name) : undefined),
      connectedNodes: () => agg.link.connectedNodes(),
      address,
    },
    {
      metrics,
      ...(statusInterval !== undefined ? { statusIntervalMs: statusInterval } : {}),
      ...(relist !== undefined ? { relistMs: relist } : {}),
    },
  );
  process.stderr.write(`listening on ${address} (${args.insecure ? 'insecure' : 'mutual TLS'})\n`);

  let stopping = false;
  const stop = (why: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${why}: stopping\n`);
    controller.stop();
    void elector?.stop();
    svc.close();
    setTimeout(() => process.exit(code), 200).unref();
  };
  const run = async (): Promise<void> => {
    leading = true;
    metrics.leader.set(1);
    await controller.start();
    process.stderr.write('controller started: watching traces, clustertraces, nodes, pods, namespaces\n');
  };
  let elector: LeaderElector | undefined;
  if (args['leader-elect']) {
    elector = new LeaderElector(api, {
      namespace: args['lease-namespace'] as string,
      name: args['lease-name'],
      identity: args.identity,
      onStarted: () => void run().catch((e: Error) => stop(`controller failed: ${e.message}`, 1)),
      // A replica that lost the lease may act on stale state: exit and start again as a follower.
      onStopped: () => stop('lost the leader lease', 1),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    elector.start();
  } else await run();
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-operator: ${e.message}\n`);
  process.exit(1);
});
