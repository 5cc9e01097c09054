#!/usr/bin/env node
// The retrace command line (retis-compatible verbs and flags).
import { Command, Option } from 'commander';
import { collect, type CollectOptions } from '../commands/collect.js';
import { filter } from '../commands/filter.js';
import { inspect } from '../commands/inspect.js';
import { pcap } from '../commands/pcap.js';
import { print } from '../commands/print.js';
import { sort } from '../commands/sort.js';
import { stats } from '../commands/stats.js';
import { events, summary, traces, type EventsOptions, type ServerOptions } from '../commands/cluster.js';
import { profileList } from '../commands/profile.js';
import { eventJsonSchema, type FormatOptions } from '@retrace/events';
import { UsageError } from '../usage-error.js';
import { runningKernel } from '../profiles/kernel-facts.js';
import { optionShapes } from '../profiles/expand-args.js';
import { profileArguments } from '../profiles/profile-args.js';
import { checkExtraDirs, profileDirs } from '../profiles/search-path.js';

const repeat = (v: string, prev: string[] = []): string[] => [...prev, v];
const formatOption = (): Option =>
  new Option('--format <format>', 'text format').choices(['single-line', 'multi-line']).default('multi-line');

function fmtOf(o: { format?: string; utc?: boolean; e?: boolean }): FormatOptions {
  return { format: o.format === 'single-line' ? 'single-line' : 'multi-line', utc: !!o.utc, link: !!o.e };
}

interface GlobalOptions {
  profile: string[];
  extraProfilesDir: string[];
}

/** The subcommands profiles have sections for. */
const PROFILE_SECTIONS = ['collect', 'pcap'] as const;

/** `argv` is the whole command line as run (with profile flags), for the startup event. */
export function program(argv: readonly string[] = process.argv): Command {
  const p = new Command('retrace')
    .description('packet tracing in the Linux kernel (retis-compatible)')
    .version('0.1.0')
    // Options before the subcommand are retrace's own: `retrace -p generic collect -p tp:...`.
    .enablePositionalOptions()
    .option(
      '-p, --profile <names>',
      'profile NAME or FILE (comma list, repeatable): adds its collect/pcap arguments after yours',
      repeat,
      [],
    )
    .option('-P, --extra-profiles-dir <dir>', 'look for profiles in DIR before the default directories', repeat, []);
  p.command('collect')
    .description('trace packets on this host')
    .option(
      '-c, --collectors <list>',
      'collectors: auto, skb-tracking, skb, skb-drop, dev, ns, ct, nft (comma list)',
      repeat,
      [],
    )
    .option(
      '-p, --probe <probe>',
      '[TYPE:]TARGET[/stack], repeatable (default: tp:net:netif_receive_skb, tp:net:net_dev_start_xmit)',
      repeat,
      [],
    )
    .option('-f, --filter-packet <expression>', 'tcpdump filter: only matching packets start being followed')
    .option('-m, --filter-meta <expression>', 'meta filter on sk_buff fields, e.g. "sk_buff.dev.name == \'eth0\'"')
    .option('-o, --out [file]', 'write events to FILE (default retrace.data)')
    .option('--print', 'also print events when writing a file')
    .addOption(formatOption())
    .option('--utc', 'print UTC times instead of monotonic timestamps')
    .option('-e', 'print link-layer information')
    .option('--cmd <command>', 'run COMMAND (sh -c) and stop when it exits')
    .option('--stop-after <count>', 'stop after COUNT events')
    .option('--duration <seconds>', 'stop after this long (e.g. 10, 500ms, 1m)')
    .option('--stack', 'kernel stack trace on every event')
    .option(
      '--allow-system-changes',
      'mount tracefs if needed; for nft, add a table setting nftrace in every namespace (all undone on exit)',
    )
    .option('--skb-sections <list>', 'skb sections: all, meta, dataref, gso, packet', 'all')
    .option('--ring-size <bytes>', 'ring buffer size (power of two, default 8388608)')
    .option(
      '--nft-verdicts <list>',
      'nft verdicts that produce events: all, continue, break, jump, goto, return, drop, accept, stolen, queue, repeat',
      'drop,accept',
    )
    .option(
      '--ovs-track',
      'ovs: follow upcalls into ovs-vswitchd (its USDT probes) and back to the execution of the packet',
    )
    .action(async (o: CollectOptions) => {
      process.exitCode = await collect(o, argv.slice(1));
    });
  p.command('print')
    .description('print events from a file (- for stdin)')
    .argument('[file]', 'events file', 'retrace.data')
    .addOption(formatOption())
    .option('--utc', 'UTC times')
    .option('-e', 'link-layer information')
    .action(async (file: string, o: { format?: string; utc?: boolean; e?: boolean }) => {
      process.exitCode = await print(file, fmtOf(o));
    });
  p.command('sort')
    .description('group events into per-packet series')
    .argument('[file]', 'events file (- for stdin)', 'retrace.data')
    .option('-o, --out <file>', 'write the series as JSON lines (- for stdout)')
    .option('--max-buffer <n>', 'events buffered before the oldest series is written (0: all)', '1000')
    .option('--print', 'also print when writing a file')
    .addOption(formatOption())
    .option('--utc', 'UTC times')
    .option('-e', 'link-layer information')
    .action(
      async (
        file: string,
        o: { out?: string; maxBuffer: string; print?: boolean; format?: string; utc?: boolean; e?: boolean },
      ) => {
        if (!/^\d+$/.test(o.maxBuffer)) throw new UsageError(`--max-buffer must be a number, got '${o.maxBuffer}'`);
        process.exitCode = await sort(
          file,
          { ...(o.out ? { out: o.out } : {}), maxBuffer: Number(o.maxBuffer), print: !!o.print },
          fmtOf(o),
        );
      },
    );
  const serverFlags = (c: Command): Command =>
    c
      .option('--server <host:port>', 'the aggregator (default $RETRACE_SERVER)')
      .option('--ca <file>', "CA certificate that signed the aggregator's certificate")
      .option('--cert <file>', 'client certificate')
      .option('--key <file>', 'client private key')
      .option('--insecure', 'plain text, no TLS (local tests only)');
  serverFlags(p.command('traces').description('list the traces the aggregator holds')).action(
    async (o: ServerOptions) => {
      process.exitCode = await traces(o);
    },
  );
  serverFlags(
    p.command('summary').description("a trace's per-node state, losses and top drop reasons").argument('<trace>'),
  ).action(async (trace: string, o: ServerOptions) => {
    process.exitCode = await summary(trace, o);
  });
  serverFlags(
    p
      .command('events')
      .description("a trace's journeys, sorted across nodes (printed, JSON lines or pcap-ng)")
      .argument('<trace>', 'namespace/name, or name of a cluster-wide trace')
      .option('-o, --out <file>', 'write journeys as JSON lines, one journey per line (- for stdout)')
      .option('--pcap <file>', 'write pcap-ng instead')
      .option('--node <node>', 'only journeys that touched this node')
      .option('--pod <namespace/name>', 'only journeys that touched this pod')
      .option('--drop-reason <reason>', 'only journeys that ended in this drop reason')
      .addOption(formatOption())
      .option('--utc', 'UTC times')
      .option('-e', 'link-layer information'),
  ).action(async (trace: string, o: EventsOptions & { format?: string; utc?: boolean; e?: boolean }) => {
    process.exitCode = await events(trace, o, fmtOf(o));
  });
  p.command('inspect')
    .description('list usable probes and how they attach on this kernel')
    .option('-p, --probe <pattern>', 'probe pattern, repeatable (default tp:*)', repeat, [])
    .option('-c, --collectors <list>', 'collectors', repeat, [])
    .action((o: { probe: string[]; collectors: string[] }) => {
      process.exitCode = inspect(o.probe, o.collectors);
    });
  p.command('filter')
    .description('print the numbers of the packets of a capture the in-kernel filter accepts')
    .requiredOption('-f, --filter-packet <expression>', 'tcpdump filter expression')
    .option('-v, --verbose', 'say how the expression compiled')
    .argument('<capture>', 'pcap or pcap-ng file')
    .action((capture: string, o: { filterPacket: string; verbose?: boolean }) => {
      process.exitCode = filter(o.filterPacket, capture, !!o.verbose);
    });
  p.command('pcap')
    .description('write the packets of an events file as pcap-ng (one interface per probe)')
    .argument('[file]', 'events file (- for stdin)', 'retrace.data')
    .option('-p, --probe <probe>', 'only events of this probe, e.g. tp:net:netif_receive_skb')
    .option('-o, --out <file>', 'pcap-ng output (- for stdout)')
    .action(async (file: string, o: { probe?: string; out?: string }) => {
      process.exitCode = await pcap(file, o.probe, o.out);
    });
  p.command('schema')
    .description('print the JSON Schema of events')
    .action(() => {
      process.stdout.write(`${JSON.stringify(eventJsonSchema(), null, 2)}\n`);
    });
  p.command('stats')
    .description('summary of an events file')
    .argument('[file]', 'events file', 'retrace.data')
    .action(async (file: string) => {
      process.exitCode = await stats(file);
    });
  p.command('profile')
    .description('profiles: named sets of collect and pcap arguments (retis format 1.0)')
    .command('list')
    .description('list the profiles found, with their description and file')
    .option('-P, --extra-profiles-dir <dir>', 'also look in DIR (first)', repeat, [])
    .action((o: { extraProfilesDir: string[] }) => {
      const globals = p.opts<GlobalOptions>();
      const extra = [...globals.extraProfilesDir, ...o.extraProfilesDir];
      checkExtraDirs(extra);
      process.exitCode = profileList(extra);
    });
  return p;
}

/**
 * Runs the command line. Profiles are applied first: a pass over retrace's own options finds
 * them and the subcommand, their flags are appended to the subcommand's, then the whole line
 * is parsed as if typed.
 */
export async function run(argv: readonly string[]): Promise<void> {
  const first = program(argv);
  const { operands, unknown } = first.parseOptions(argv.slice(2));
  const globals = first.opts<GlobalOptions>();
  checkExtraDirs(globals.extraProfilesDir);
  let line = [...argv];
  const sub = operands[0];
  // Without a subcommand but with unknown options, commander's own parse says what is wrong.
  if (globals.profile.length && (sub || !unknown.length)) {
    const section = PROFILE_SECTIONS.find((s) => s === sub);
    const command = first.commands.find((c) => c.name() === sub);
    if (!section || !command)
      throw new UsageError(
        `-p/--profile applies to ${PROFILE_SECTIONS.join(' and ')}${sub ? `, not ${sub}` : ': name one of them after the profile'}`,
      );
    const extra = profileArguments(globals.profile, section, optionShapes(command), {
      dirs: profileDirs(globals.extraProfilesDir),
      kernel: runningKernel(),
      warn: (l) => process.stderr.write(`${l}\n`),
    });
    // After everything the user typed, but before a `--` that ends the options.
    const end = line.indexOf('--', argv.length - unknown.length);
    line = end < 0 ? [...line, ...extra] : [...line.slice(0, end), ...extra, ...line.slice(end)];
  }
  await program(line).parseAsync(line);
}

run(process.argv).catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`retrace: ${err.message}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
