#!/usr/bin/env -S node --max-semi-space-size=32
// (A larger young generation: events wait in the sorter for the lateness window, and with the
// default most of them were copied twice and promoted before they died; about 8% of the CPU.)
// retrace-operator: the Trace and ClusterTrace controller. The aggregator runs in the same
// process (agents dial this process) unless --aggregator HOST:PORT names a separate
// retrace-aggregator, which the operator then drives through its control API with the TLS flags
// as client credentials. Kubernetes access from KUBECONFIG or the Pod's service account; with
// --leader-elect only the replica holding the Lease reconciles.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { flagHelpers, type FlagHelpers } from '@retrace/events';
import { CertificateError, startHealthServer } from '@retrace/wire';
import { ControlClient, RemoteAggregator } from '../controller/aggregator-client.js';
import { KubeApi } from '../controller/kube-api.js';
import { LeaderElector } from '../controller/leader-election.js';
import { OperatorMetrics } from '../controller/operator-metrics.js';
import { TraceController, type AggregatorPort } from '../controller/controller.js';
import {
  AGGREGATOR_FLAGS,
  AGGREGATOR_USAGE,
  SEPARATE_REFUSED,
  aggregatorServiceOptions,
} from '../server/aggregator-flags.js';
import { ListenError, startAggregatorService } from '../server/aggregator-service.js';

const USAGE = `usage: retrace-operator ${AGGREGATOR_USAGE}
       [--advertise HOST:PORT] [--status-interval-ms N] [--relist-ms N]
       [--leader-elect --lease-namespace NS [--lease-name NAME] [--identity ID]]
   or: retrace-operator --aggregator HOST:PORT [--ca FILE --cert FILE --key FILE | --insecure]
       [--advertise HOST:PORT] [--metrics-port N] [--aggregator-refresh-ms N] (and the options above
       from --status-interval-ms on): drive a separate retrace-aggregator instead of running one`;

const flags = flagHelpers('retrace-operator', USAGE);
const fail: FlagHelpers['fail'] = flags.fail;

/** What the controller talks to, and how it goes away. */
interface Backend {
  port: AggregatorPort;
  /** Resolves when the controller can start (a separate aggregator answered). */
  ready(): Promise<void>;
  /** The controller reconciled every trace once. */
  synced(): void;
  /** Empty when fine, otherwise why not ready. */
  problem(): string;
  close(): void;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        ...AGGREGATOR_FLAGS,
        aggregator: { type: 'string' },
        'aggregator-refresh-ms': { type: 'string' },
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
  const statusInterval = flags.num('status-interval-ms', args['status-interval-ms']);
  const relist = flags.num('relist-ms', args['relist-ms']);
  const metricsPort = flags.num('metrics-port', args['metrics-port']);
  // Every flag checked before anything starts.
  let remote: RemoteAggregator | undefined;
  let opts: ReturnType<typeof aggregatorServiceOptions> | undefined;
  if (args.aggregator !== undefined) {
    // A separate aggregator: no store, no listener, no agents here.
    const own = SEPARATE_REFUSED.find((f) => args[f] !== undefined);
    if (own)
      fail(`--${own} is retrace-aggregator's: with --aggregator the operator runs no aggregator (give it there)`);
    if (!/^\S+:\d+$/.test(args.aggregator))
      fail(`--aggregator must be HOST:PORT (the separate retrace-aggregator), got '${args.aggregator}'`);
    const refreshMs = flags.num('aggregator-refresh-ms', args['aggregator-refresh-ms']);
    let client: ControlClient;
    try {
      client = new ControlClient(args.aggregator, {
        ca: args.ca,
        cert: args.cert,
        key: args.key,
        insecure: !!args.insecure,
      });
    } catch (e) {
      if (e instanceof CertificateError)
        fail(`${e.message} (the operator's TLS files for the aggregator at ${args.aggregator})`);
      throw e;
    }
    remote = new RemoteAggregator(client, {
      advertise: args.advertise ?? args.aggregator,
      identity: args.identity,
      ...(refreshMs ? { refreshMs } : {}),
    });
  } else {
    if (args['aggregator-refresh-ms'] !== undefined) fail('--aggregator-refresh-ms goes with --aggregator HOST:PORT');
    opts = aggregatorServiceOptions(args, fail, flags.num);
  }
  let api: KubeApi;
  try {
    api = KubeApi.fromDefault();
  } catch (e) {
    fail(`no Kubernetes API to talk to: ${(e as Error).message} (set KUBECONFIG, or run in a Pod)`);
  }
  let leading = !args['leader-elect'];
  let backend: Backend;
  let registry: Registry;
  let closeHealth = (): void => undefined;

  if (remote) {
    const r = remote;
    backend = {
      port: r,
      ready: () => r.start(),
      synced: () => r.takeOver(),
      problem: () => r.problem(),
      close: () => r.close(),
    };
    registry = new Registry();
    if (metricsPort !== undefined) {
      try {
        const health = await startHealthServer({
          port: metricsPort,
          registry,
          notReady: () => (leading ? r.problem() : 'not the leader'),
        });
        closeHealth = () => health.close();
      } catch (e) {
        fail(`cannot listen on :${metricsPort} (--metrics-port): ${(e as Error).message}`);
      }
    }
    process.stderr.write(
      `driving the aggregator at ${args.aggregator} (${args.insecure ? 'insecure' : 'mutual TLS'}); ` +
        `traces' results at ${r.address}\n`,
    );
  } else {
    const o = opts as NonNullable<typeof opts>;
    let svc;
    try {
      svc = await startAggregatorService({
        ...o,
        notReady: () => (leading ? '' : 'not the leader'),
      });
    } catch (e) {
      if (e instanceof ListenError) fail(e.message);
      throw e;
    }
    const { agg } = svc;
    const address = args.advertise ?? o.listen.replace(/:\d+$/, `:${svc.port}`);
    backend = {
      port: {
        setTraces: (specs) => agg.setTraces(specs),
        summary: (name) => (agg.traceNames().includes(name) ? agg.summary(name) : undefined),
        connectedNodes: () => agg.link.connectedNodes(),
        address,
      },
      ready: () => Promise.resolve(),
      synced: () => undefined,
      problem: () => '',
      close: () => svc.close(),
    };
    registry = agg.metrics.registry;
    process.stderr.write(`listening on ${address} (${args.insecure ? 'insecure' : 'mutual TLS'})\n`);
  }

  const metrics = new OperatorMetrics(registry);
  const controller = new TraceController(api, backend.port, {
    metrics,
    ...(statusInterval !== undefined ? { statusIntervalMs: statusInterval } : {}),
    ...(relist !== undefined ? { relistMs: relist } : {}),
  });

  let stopping = false;
  let elector: LeaderElector | undefined;
  const stop = (why: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${why}: stopping\n`);
    controller.stop();
    void elector?.stop();
    backend.close();
    closeHealth();
    setTimeout(() => process.exit(code), 200).unref();
  };
  const run = async (): Promise<void> => {
    leading = true;
    metrics.leader.set(1);
    await backend.ready();
    if (stopping) return;
    await controller.start();
    process.stderr.write('controller started: watching traces, clustertraces, nodes, pods, namespaces\n');
    // Every trace reconciled once: the operator's set is now whole, and may replace the one a
    // separate aggregator kept running meanwhile.
    await controller.idle();
    backend.synced();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
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
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-operator: ${e.message}\n`);
  process.exit(1);
});
