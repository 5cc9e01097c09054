#!/usr/bin/env -S node --max-semi-space-size=32
// (A larger young generation: events wait in the sorter for the lateness window, and with the
// default most of them were copied twice and promoted before they died; about 8% of the CPU.)
// retrace-operator: the controller's process (its summary below says what runs in it; the
// aggregator's flags, shared with retrace-aggregator, are @retrace/aggregator's aggregator-flags.ts).
// Only the flags are loaded before they are parsed: --help and usage errors answer without
// loading the Kubernetes client, gRPC or the aggregator (main() imports them).
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { address, bool, daemonFlags, integer, text, type Fail } from '@retrace/cli-flags';
import { AGGREGATOR_FLAGS, SEPARATE_REFUSED } from '@retrace/aggregator/flags';
import type { ControlClient, RemoteAggregator } from '../controller/aggregator-client.js';
import type { AggregatorPort } from '../controller/controller.js';
import type { KubeApi } from '../controller/kube-api.js';
import type { LeaderElector } from '../controller/leader-election.js';

const daemon = daemonFlags({
  name: 'retrace-operator',
  summary:
    "retrace's Trace and ClusterTrace controller, with the aggregator in the same process (agents dial it) " +
    'unless --aggregator names a separate retrace-aggregator. Kubernetes access from KUBECONFIG or the ' +
    "Pod's service account.",
  flags: {
    ...AGGREGATOR_FLAGS,
    aggregator: address(
      'drive the retrace-aggregator at HOST:PORT instead of running one (--ca, --cert and --key are then its client credentials)',
      'the separate retrace-aggregator',
    ),
    'aggregator-refresh-ms': integer(
      'MS',
      "with --aggregator: how often the aggregator's state is read (default: 1000)",
    ),
    advertise: address(
      "the aggregator's address traces' status gives clients (default: --aggregator's, else --listen's)",
    ),
    'status-interval-ms': integer(
      'MS',
      "a trace's status written at most this often, but for phase changes (default: 2000)",
    ),
    'relist-ms': integer('MS', 'list every watched kind again this often (default: 300000)'),
    'leader-elect': bool('reconcile only while holding the Lease (for several replicas)'),
    'lease-namespace': text(
      'NS',
      'the namespace of the Lease, the one the operator runs in (needed by --leader-elect)',
    ),
    'lease-name': text('NAME', 'the Lease', { default: 'retrace-operator' }),
    identity: text('ID', 'this replica in the Lease', {
      default: `${hostname()}-${process.pid}`,
      shownDefault: 'HOSTNAME-PID',
    }),
  },
  epilog:
    `With --aggregator the operator runs no aggregator: ${SEPARATE_REFUSED.map((f) => `--${f}`).join(', ')} ` +
    "are retrace-aggregator's and refused; --metrics-port serves the operator's own health and metrics.",
});
const args = daemon.values;
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: Fail = daemon.fail;

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
  const [
    { Registry },
    { CertificateError, startHealthServer },
    { ControlClient, RemoteAggregator },
    { KubeApi },
    { LeaderElector },
    { OperatorMetrics },
    { TraceController },
    { ListenError, aggregatorServiceOptions, startAggregatorService },
  ] = await Promise.all([
    import('prom-client'),
    import('@retrace/wire'),
    import('../controller/aggregator-client.js'),
    import('../controller/kube-api.js'),
    import('../controller/leader-election.js'),
    import('../controller/operator-metrics.js'),
    import('../controller/controller.js'),
    import('@retrace/aggregator'),
  ]);
  if (args['leader-elect'] && !args['lease-namespace'])
    fail('--leader-elect needs --lease-namespace (the namespace the operator runs in)');
  const statusInterval = args['status-interval-ms'];
  const relist = args['relist-ms'];
  const metricsPort = args['metrics-port'];
  // Every flag checked before anything starts.
  let remote: RemoteAggregator | undefined;
  let opts: ReturnType<typeof aggregatorServiceOptions> | undefined;
  if (args.aggregator !== undefined) {
    // A separate aggregator: no store, no listener, no agents here.
    const own = SEPARATE_REFUSED.find((f) => args[f] !== undefined);
    if (own)
      fail(`--${own} is retrace-aggregator's: with --aggregator the operator runs no aggregator (give it there)`);
    const refreshMs = args['aggregator-refresh-ms'];
    let client: ControlClient;
    try {
      client = new ControlClient(args.aggregator, {
        ca: args.ca,
        cert: args.cert,
        key: args.key,
        insecure: args.insecure,
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
    opts = aggregatorServiceOptions(args, fail);
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
