// The cluster verbs, shared by `retrace` and `kubectl retrace` (the kubectl-retrace plugin):
// through Kubernetes (create, get, stop, drops, events NAME), or straight to an aggregator with
// --server (traces, summary, events).
import { Option, type Command } from 'commander';
import type { FormatOptions } from '@retrace/events';
import { addTracingFlags, commaValue, repeat } from './commands/collect-flags.js';
import type { EventsOptions, ServerOptions } from './commands/cluster.js';
import type { AggregatorFlags } from './commands/kube.js';
import type { KubeFlags } from './kube/trace-client.js';
import type { CreateFlags } from './kube/trace-from-flags.js';
import { UsageError } from './usage-error.js';
import { refuseOverwrite, type InputFile } from './output/same-file.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

// The verbs' code is loaded when one runs: the Kubernetes client and the operator's types take
// most of a second to load, which `retrace print` or `--version` should not pay.
const clusterVerbs = () => import('./commands/cluster.js');
const kubeVerbs = () => import('./commands/kube.js');

export const formatOption = (): Option =>
  new Option('--format <format>', 'text format').choices(['single-line', 'multi-line']).default('multi-line');

export function fmtOf(o: { format?: string; utc?: boolean; e?: boolean }): FormatOptions {
  return { format: o.format === 'single-line' ? 'single-line' : 'multi-line', utc: !!o.utc, link: !!o.e };
}

const outputOption = (): Option => new Option('-o, --output <format>', 'print the object(s)').choices(['json', 'yaml']);

/** Where the Kubernetes API is and which namespace is meant (as kubectl's flags). */
function kubeFlags(c: Command): Command {
  return c
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <namespace>', "namespace of the Trace (default: the context's, or default)")
    .option('--cluster', 'a ClusterTrace (cluster-wide; for cluster admins)');
}

/** How to reach and trust an aggregator. */
function serverFlags(c: Command, direct: boolean): Command {
  c.option(
    '--server <host:port>',
    direct ? 'the aggregator (default $RETRACE_SERVER)' : "the aggregator, instead of the one the trace's status names",
  )
    .option('--ca <file>', "CA certificate that signed the aggregator's certificate")
    .option(
      '--cert <file>',
      'client certificate (none with --ca: known by a bearer token, $RETRACE_TOKEN or the kubeconfig user)',
    )
    .option('--key <file>', 'client private key')
    .option('--insecure', 'plain text, no TLS (local tests only)')
    .option('--tls-server-name <name>', "the name in the aggregator's certificate (when --server is a port-forward)");
  if (!direct)
    c.option('--tls-secret <namespace/name>', 'read ca.crt, tls.crt and tls.key from this Secret').option(
      '--ca-configmap <namespace/name>',
      "trust the CA in this ConfigMap's ca.crt and read as your kubeconfig user (the chart's <release>-ca)",
    );
  return c;
}

type KubeEventsFlags = EventsOptions &
  AggregatorFlags &
  KubeFlags & { follow?: boolean; interval?: string; format?: string; utc?: boolean; e?: boolean };

/** The files `events` reads (kubeconfig, certificates, key): its outputs must not replace them. */
function credentialFiles(o: KubeEventsFlags): InputFile[] {
  const kubeconfigs = o.kubeconfig
    ? [o.kubeconfig]
    : (process.env.KUBECONFIG?.split(':').filter(Boolean) ?? [join(homedir(), '.kube', 'config')]);
  return [
    ...kubeconfigs.map((path) => ({ what: 'the kubeconfig', path })),
    ...(o.ca ? [{ what: 'the --ca certificate', path: o.ca }] : []),
    ...(o.cert ? [{ what: 'the --cert certificate', path: o.cert }] : []),
    ...(o.key ? [{ what: 'the --key private key', path: o.key }] : []),
  ];
}

export function addClusterVerbs(p: Command): void {
  const createCmd = kubeFlags(
    addTracingFlags(
      p
        .command('create')
        .description('create a Trace (or a ClusterTrace with --cluster) from the same flags as collect')
        .argument('<name>', 'name of the trace'),
    ),
  )
    .option(
      '--node-profile <names>',
      'profiles each node applies for its own kernel (spec.profile, comma list)',
      commaValue('--node-profile'),
    )
    .option('--node-selector <key=value>', 'only nodes with these labels (repeatable)', repeat, [])
    .option('--pod-selector <selector>', "only these pods' packets (kubectl -l syntax: app=web,tier in (a,b))")
    .option('--namespace-selector <selector>', 'with --cluster: pods of the namespaces with these labels')
    .option('--events-per-second <n>', "each node's event budget per second (past it, events are counted lost)")
    .option('--pcap', 'also keep packets for pcap-ng export')
    .option('--retention <duration>', 'how long the aggregator keeps the results after the end (e.g. 24h)')
    .option('--dry-run', 'print the object instead of creating it')
    .addOption(outputOption());
  createCmd.action(
    async (name: string, o: CreateFlags & KubeFlags & { dryRun?: boolean; output?: 'json' | 'yaml' }) => {
      process.exitCode = await (await kubeVerbs()).create(name, o);
    },
  );

  kubeFlags(
    p
      .command('get')
      .alias('list')
      .description('traces with their phase, nodes, events and top drop; with NAME, everything about one')
      .argument('[name]', 'one trace: its conditions, nodes, failed probes and drops')
      .option('-A, --all-namespaces', 'Traces of every namespace')
      .addOption(outputOption()),
  ).action(async (name: string | undefined, o: KubeFlags & { allNamespaces?: boolean; output?: 'json' | 'yaml' }) => {
    process.exitCode = await (await kubeVerbs()).get(name, o);
  });

  kubeFlags(p.command('stop').description('stop a trace (sets spec.stopped; results stay)').argument('<name>')).action(
    async (name: string, o: KubeFlags) => {
      process.exitCode = await (await kubeVerbs()).stop(name, o);
    },
  );

  serverFlags(
    kubeFlags(
      p
        .command('drops')
        .description('where packets are dropped across the cluster: by reason, node and pod')
        .argument('[name]', 'one trace only (default: every trace in the namespace, and ClusterTraces)')
        .option('-A, --all-namespaces', 'Traces of every namespace'),
    ),
    false,
  ).action(async (name: string | undefined, o: AggregatorFlags & KubeFlags & { allNamespaces?: boolean }) => {
    process.exitCode = await (await kubeVerbs()).drops(name, o);
  });

  serverFlags(
    kubeFlags(
      p
        .command('events')
        .description("a trace's journeys, sorted across nodes (printed, JSON lines or pcap-ng)")
        .argument(
          '<name>',
          "the trace; with --server (or $RETRACE_SERVER), the aggregator's name for it: namespace/name, or name of a ClusterTrace",
        )
        .option('-o, --out <file>', 'write journeys as JSON lines, one journey per line (- for stdout)')
        .option('--pcap <file>', 'write pcap-ng instead')
        .option('--node <node>', 'only journeys that touched this node')
        .option('--pod <namespace/name>', 'only journeys that touched this pod')
        .option('--drop-reason <reason>', 'only journeys that ended in this drop reason')
        .option('-F, --follow', 'keep printing new journeys until the trace ends (or Ctrl-C)')
        .option('--interval <ms>', 'with --follow: how often to ask for new journeys', '1000')
        .addOption(formatOption())
        .option('--utc', 'UTC times')
        .option('-e', 'link-layer information'),
    ),
    false,
  ).action(async (name: string, o: KubeEventsFlags) => {
    const interval = Number(o.interval ?? '1000');
    if (!Number.isInteger(interval) || interval < 100)
      throw new UsageError(`--interval must be a number of milliseconds >= 100, got '${o.interval ?? ''}'`);
    const inputs = credentialFiles(o);
    refuseOverwrite('-o', o.out, inputs);
    refuseOverwrite('--pcap', o.pcap, inputs);
    const opts = { ...o, intervalMs: interval };
    // --server: the aggregator is named, so is the trace (its name there, namespace/name for a
    // Trace: -n NS and a bare name make it); no Kubernetes.
    if (o.server ?? process.env.RETRACE_SERVER) {
      const there = o.namespace && !o.cluster && !name.includes('/') ? `${o.namespace}/${name}` : name;
      process.exitCode = await (
        await clusterVerbs()
      ).events(
        there,
        opts,
        fmtOf(o),
        o.tlsSecret || o.caConfigmap ? await (await kubeVerbs()).directClient(o) : undefined,
      );
    } else process.exitCode = await (await kubeVerbs()).kubeEvents(name, opts, fmtOf(o));
  });

  serverFlags(p.command('traces').description('list the traces an aggregator holds (--server)'), true).action(
    async (o: ServerOptions) => {
      process.exitCode = await (await clusterVerbs()).traces(o);
    },
  );
  serverFlags(
    p
      .command('summary')
      .description("a trace's per-node state, losses and top drop reasons (--server)")
      .argument('<trace>'),
    true,
  ).action(async (trace: string, o: ServerOptions) => {
    process.exitCode = await (await clusterVerbs()).summary(trace, o);
  });
}
