#!/usr/bin/env node
// The retrace command line (retis-compatible verbs and flags).
import { Command } from 'commander';
import type { CollectOptions } from '../commands/collect.js';
import { addTracingFlags, commaRepeat, repeat } from '../commands/collect-flags.js';
import { addClusterVerbs, fmtOf, formatOption } from '../cluster-verbs.js';
import type { InputFile } from '../output/same-file.js';
import { UsageError } from '../usage-error.js';
import { OutputWriteError } from '../output/write-error.js';
import { ProfileError, checkExtraDirs, findProfile, profileArguments, profileDirs, profileNames } from '@retrace/spec';
import { optionShapes } from '../profiles/option-shapes.js';

// Each verb's code loads when it runs: the tracing engine (libbpf, the native addon) and the
// profiles' YAML are not for `retrace print` or `--version` to pay (`make bench` prints the cost).
const verb = {
  collect: () => import('../commands/collect.js'),
  filter: () => import('../commands/filter.js'),
  inspect: () => import('../commands/inspect.js'),
  pcap: () => import('../commands/pcap.js'),
  print: () => import('../commands/print.js'),
  sort: () => import('../commands/sort.js'),
  stats: () => import('../commands/stats.js'),
  python: () => import('../commands/python.js'),
  profile: () => import('../commands/profile.js'),
  cleanup: () => import('../commands/cleanup.js'),
  schema: () => import('@retrace/events'),
};

interface GlobalOptions {
  profile: string[];
  extraProfilesDir: string[];
}

/** The subcommands profiles have sections for; `create` takes collect's flags, so its section. */
const SECTION_OF: Record<string, 'collect' | 'pcap'> = {
  collect: 'collect',
  pcap: 'pcap',
  create: 'collect',
};

/**
 * `argv` is the whole command line as run (with profile flags), for the startup event;
 * `profiles` the profile files it used (inputs that no output may replace).
 */
export function program(argv: readonly string[] = process.argv, profiles: readonly InputFile[] = []): Command {
  const p = new Command('retrace')
    .description('packet tracing in the Linux kernel (retis-compatible)')
    .version('0.1.0')
    // Options before the subcommand are retrace's own: `retrace -p generic collect -p tp:...`.
    .enablePositionalOptions()
    .option(
      '-p, --profile <names>',
      'profile NAME or FILE (comma list, repeatable): adds its collect/pcap arguments after yours',
      commaRepeat('-p/--profile'),
      [],
    )
    .option('-P, --extra-profiles-dir <dir>', 'look for profiles in DIR before the default directories', repeat, [])
    .addHelpText(
      'after',
      "\nFiles: no -o/--pcap may name one of the command's inputs (same file, links too: exit 2). A failed write\n" +
        '(a full disk) names the file, keeps it readable up to the last whole event and says what was written\n' +
        'and lost (exit 1). A file without events is an error (exit 1). See docs/cli-files.md.',
    );
  addTracingFlags(p.command('collect').description('trace packets on this host'))
    .option(
      '-o, --out [file]',
      'write events to FILE (default retrace.data; never one of its inputs; on a write error, a full disk, the run stops and says what was written and lost)',
    )
    .option('--print', 'also print events when writing a file')
    .addOption(formatOption())
    .option('--utc', 'print UTC times instead of monotonic timestamps')
    .option('-e', 'print link-layer information')
    .option('--cmd <command>', 'run COMMAND (sh -c) and stop when it exits')
    .option('--ring-size <bytes>', 'ring buffer size (power of two, default 8388608)')
    .action(async (o: CollectOptions) => {
      process.exitCode = await (await verb.collect()).collect(o, argv.slice(1), profiles);
    });
  p.command('print')
    .description('print events from a file (- for stdin); a file without events is an error (exit 1)')
    .argument('[file]', 'events file', 'retrace.data')
    .addOption(formatOption())
    .option('--utc', 'UTC times')
    .option('-e', 'link-layer information')
    .action(async (file: string, o: { format?: string; utc?: boolean; e?: boolean }) => {
      process.exitCode = await (await verb.print()).print(file, fmtOf(o));
    });
  p.command('sort')
    .description('group events into per-packet series')
    .argument('[file]', 'events file (- for stdin)', 'retrace.data')
    .option('-o, --out <file>', 'write the series as JSON lines (- for stdout); not the input file')
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
        process.exitCode = await (
          await verb.sort()
        ).sort(file, { ...(o.out ? { out: o.out } : {}), maxBuffer: Number(o.maxBuffer), print: !!o.print }, fmtOf(o));
      },
    );
  addClusterVerbs(p);
  p.command('inspect')
    .description('list usable probes and how they attach on this kernel')
    .option('-p, --probe <pattern>', 'probe pattern, repeatable (default tp:*)', repeat, [])
    .option('-c, --collectors <list>', 'collectors (comma list)', commaRepeat('-c/--collectors'), [])
    .action(async (o: { probe: string[]; collectors: string[] }) => {
      process.exitCode = (await verb.inspect()).inspect(o.probe, o.collectors);
    });
  p.command('filter')
    .description('print the numbers of the packets of a capture the in-kernel filter accepts')
    .requiredOption('-f, --filter-packet <expression>', 'tcpdump filter expression')
    .option('-v, --verbose', 'say how the expression compiled')
    .argument('<capture>', 'pcap or pcap-ng file')
    .action(async (capture: string, o: { filterPacket: string; verbose?: boolean }) => {
      process.exitCode = (await verb.filter()).filter(o.filterPacket, capture, !!o.verbose);
    });
  p.command('pcap')
    .description('write the packets of an events file as pcap-ng (one interface per probe)')
    .argument('[file]', 'events file (- for stdin)', 'retrace.data')
    .option('-p, --probe <probe>', 'only events of this probe, e.g. tp:net:netif_receive_skb')
    .option('-o, --out <file>', 'pcap-ng output (- for stdout); not the input file')
    .action(async (file: string, o: { probe?: string; out?: string }) => {
      process.exitCode = await (await verb.pcap()).pcap(file, o.probe, o.out, profiles);
    });
  p.command('schema')
    .description('print the JSON Schema of events')
    .action(async () => {
      process.stdout.write(`${JSON.stringify((await verb.schema()).eventJsonSchema(), null, 2)}\n`);
    });
  p.command('stats')
    .description('summary of an events file')
    .argument('[file]', 'events file', 'retrace.data')
    .action(async (file: string) => {
      process.exitCode = await (await verb.stats()).stats(file);
    });
  p.command('python')
    .description(
      "run a Python script (or an interactive shell) with the events loaded as `reader`, through retis's Python library (pip install retis)",
    )
    .option('-i, --input <file>', 'events file or rotated set (default retrace.data, else retis.data)')
    .argument(
      '[script]',
      "script file, or the name of one in ~/.config/retis/python or /usr/share/retis/python (and retrace's)",
    )
    .argument('[args...]', "the script's arguments (sys.argv[1:])")
    // Everything after the script is the script's, options included.
    .passThroughOptions()
    .action(async (script: string | undefined, args: string[], o: { input?: string }) => {
      process.exitCode = await (await verb.python()).python(script, args, o);
    });
  p.command('cleanup')
    .description(
      'remove the nftrace tables of retrace processes that were killed (collect does this too when it starts); needs root',
    )
    .action(async () => {
      process.exitCode = (await verb.cleanup()).cleanup();
    });
  p.command('profile')
    .description('profiles: named sets of collect and pcap arguments (retis format 1.0)')
    .command('list')
    .description('list the profiles found, with their description and file')
    .option('-P, --extra-profiles-dir <dir>', 'also look in DIR (first)', repeat, [])
    .action(async (o: { extraProfilesDir: string[] }) => {
      const globals = p.opts<GlobalOptions>();
      const extra = [...globals.extraProfilesDir, ...o.extraProfilesDir];
      checkExtraDirs(extra);
      process.exitCode = (await verb.profile()).profileList(extra);
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
  let profiles: InputFile[] = [];
  const sub = operands[0];
  // Without a subcommand but with unknown options, commander's own parse says what is wrong.
  if (globals.profile.length && (sub || !unknown.length)) {
    const section = sub === undefined ? undefined : SECTION_OF[sub];
    const command = first.commands.find((c) => c.name() === sub);
    if (!section || !command)
      throw new UsageError(
        `-p/--profile applies to collect, pcap and create${sub ? `, not ${sub}` : ': name one of them after the profile'}`,
      );
    const extra = profileArguments(globals.profile, section, optionShapes(command), {
      dirs: profileDirs(globals.extraProfilesDir),
      // The running kernel's facts come from the tracing engine: loaded only for a profile.
      kernel: (await import('@retrace/agent')).runningKernel(),
      warn: (l) => process.stderr.write(`${l}\n`),
    });
    // After everything the user typed, but before a `--` that ends the options.
    const end = line.indexOf('--', argv.length - unknown.length);
    line = end < 0 ? [...line, ...extra] : [...line.slice(0, end), ...extra, ...line.slice(end)];
    const dirs = profileDirs(globals.extraProfilesDir);
    profiles = profileNames(globals.profile).map((name) => ({
      what: `the profile ${name}`,
      path: findProfile(name, dirs, () => {}).file,
    }));
  }
  await program(line, profiles).parseAsync(line);
}

// `retrace profile list | head`: a reader that has what it wanted closes the pipe; end quietly as a
// process killed by SIGPIPE would, whichever verb was writing.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(141);
});

run(process.argv).catch((e: unknown) => {
  const err = e as Error;
  // `retrace print F | head`: the reader has what it wanted; quiet, as a process killed by SIGPIPE.
  if (err instanceof OutputWriteError && err.path === '-' && err.errno.code === 'EPIPE') {
    process.exitCode = 141;
    return;
  }
  process.stderr.write(`retrace: ${err.message}\n`);
  process.exitCode = err instanceof UsageError || err instanceof ProfileError ? 2 : 1;
});
