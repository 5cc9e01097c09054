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
import { applyLogLevel, debug, parseLogLevel } from '../log-level.js';
import { PAGED_VERBS, pagerCommand, runPaged } from '../pager.js';

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
  input: () => import('../commands/input.js'),
  schema: () => import('@retrace/events'),
  complete: () => import('../commands/completion.js'),
};

/** The events input of print, sort, stats and pcap (commands/input.ts reads it). */
const INPUT_HELP =
  'events file: FILE alone, FILE.N.. a rotated set from FILE.N on, - stdin ' +
  '(default retis.data, else retis.data.0.., else retrace.data, else retrace.data.0..)';

interface GlobalOptions {
  profile: string[];
  extraProfilesDir: string[];
  logLevel?: string;
  /** retis took --kconf before the subcommand too (its container images still do). */
  kconf?: string;
}

const KCONF_HELP =
  'kernel build configuration FILE (plain or gzip; default: /proc/config.gz, /boot/config-$(uname -r), ...)';

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
    .option('--log-level <level>', 'messages shown on stderr: error, warn, info (default), debug, trace')
    .option('--kconf <file>', KCONF_HELP)
    .addHelpText(
      'after',
      "\nFiles: no -o/--pcap may name one of the command's inputs (same file, links too: exit 2). A failed write\n" +
        '(a full disk) names the file, keeps it readable up to the last whole event and says what was written\n' +
        'and lost (exit 1). A file without events is an error (exit 1). See docs/cli-files.md.',
    );
  addTracingFlags(p.command('collect').description('trace packets on this host'))
    .option(
      '-o, --out [file]',
      'write events to FILE (default retis.data; never one of its inputs; on a write error, a full disk, the run stops and says what was written and lost)',
    )
    .option(
      '--out-rotate <size>',
      'with -o FILE: start a new file when one would pass SIZE (e.g. 100MB, 2GB); a finished run leaves FILE.0, FILE.1, ... (read them as one with FILE.0..); refused when FILE.N files exist',
    )
    .option('--print', 'also print events when writing a file')
    .addOption(formatOption())
    .option('--utc', 'print UTC times instead of monotonic timestamps')
    .option('-e', 'print link-layer information')
    .option('--cmd <command>', 'run COMMAND (sh -c) and stop when it exits')
    .option('--ring-size <bytes>', 'ring buffer size (power of two, default 8388608)')
    .option(
      '--probe-stack',
      'add kprobes on the functions seen in the stack traces of reported events (needs -f or -m, and kprobes; without -p starts from tp:skb:kfree_skb and tp:skb:consume_skb)',
    )
    .option('--kconf <file>', KCONF_HELP)
    .action(async (o: CollectOptions) => {
      const kconf = o.kconf ?? p.opts<GlobalOptions>().kconf;
      process.exitCode = await (
        await verb.collect()
      ).collect({ ...o, ...(kconf !== undefined ? { kconf } : {}) }, argv.slice(1), profiles);
    });
  p.command('print')
    .description('print events from a file (- for stdin); a file without events is an error (exit 1)')
    .argument('[file]', INPUT_HELP)
    .addOption(formatOption())
    .option('--utc', 'UTC times')
    .option('-e', 'link-layer information')
    .action(async (file: string | undefined, o: { format?: string; utc?: boolean; e?: boolean }) => {
      process.exitCode = await (await verb.print()).print((await verb.input()).resolveInput(file), fmtOf(o));
    });
  p.command('sort')
    .description('group events into per-packet series')
    .argument('[file]', INPUT_HELP)
    .option('-o, --out <file>', 'write the series as JSON lines (- for stdout); never one of the input files')
    .option('--max-buffer <n>', 'events buffered before the oldest series is written (0: all)', '1000')
    .option('--print', 'also print when writing a file')
    .addOption(formatOption())
    .option('--utc', 'UTC times')
    .option('-e', 'link-layer information')
    .action(
      async (
        file: string | undefined,
        o: { out?: string; maxBuffer: string; print?: boolean; format?: string; utc?: boolean; e?: boolean },
      ) => {
        if (!/^\d+$/.test(o.maxBuffer)) throw new UsageError(`--max-buffer must be a number, got '${o.maxBuffer}'`);
        process.exitCode = await (
          await verb.sort()
        ).sort(
          (await verb.input()).resolveInput(file),
          { ...(o.out ? { out: o.out } : {}), maxBuffer: Number(o.maxBuffer), print: !!o.print },
          fmtOf(o),
        );
      },
    );
  addClusterVerbs(p);
  p.command('inspect')
    .description('list usable probes and how they attach on this kernel')
    .option('-p, --probe <pattern>', 'probe pattern, repeatable (default tp:*)', repeat, [])
    .option('-c, --collectors <list>', 'collectors (comma list)', commaRepeat('-c/--collectors'), [])
    .option('--kconf <file>', KCONF_HELP)
    .action(async (o: { probe: string[]; collectors: string[]; kconf?: string }) => {
      const kconf = o.kconf ?? p.opts<GlobalOptions>().kconf;
      process.exitCode = (await verb.inspect()).inspect(o.probe, o.collectors, kconf);
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
    .argument('[file]', INPUT_HELP)
    .option(
      '-p, --probe <probe>',
      'only events of this probe, e.g. tp:net:netif_receive_skb (an error when no event is of it)',
    )
    .option('-o, --out <file>', 'pcap-ng output (default: standard output); never one of the input files')
    .action(async (file: string | undefined, o: { probe?: string; out?: string }) => {
      process.exitCode = await (
        await verb.pcap()
      ).pcap((await verb.input()).resolveInput(file), o.probe, o.out, profiles);
    });
  p.command('schema')
    .description('print the JSON Schema of events')
    .action(async () => {
      process.stdout.write(`${JSON.stringify((await verb.schema()).eventJsonSchema(), null, 2)}\n`);
    });
  p.command('stats')
    .description('summary of an events file')
    .argument('[file]', INPUT_HELP)
    .action(async (file: string | undefined) => {
      process.exitCode = await (await verb.stats()).stats((await verb.input()).resolveInput(file));
    });
  p.command('python')
    .description(
      "run a Python script (or an interactive shell) with the events loaded as `reader`, through retis's Python library (pip install retis)",
    )
    .option('-i, --input <file>', 'events file or rotated set (default retis.data, else retrace.data)')
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
  p.command('sh-complete')
    .description('print (or --register) a shell completion script for retrace')
    .requiredOption('--shell <shell>', 'bash, zsh or fish')
    .option('--register <path>', 'write it to FILE, or into DIR under the name the shell looks for')
    .action(async (o: { shell: string; register?: string }) => {
      process.exitCode = (await verb.complete()).shComplete(p, o.shell, o.register);
    });
  p.command('completion')
    .description('print a shell completion script: retrace sh-complete --shell SHELL')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      process.exitCode = (await verb.complete()).shComplete(p, shell, undefined);
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
  applyLogLevel(parseLogLevel(globals.logLevel));
  checkExtraDirs(globals.extraProfilesDir);
  const sub = operands[0];
  const pager =
    sub !== undefined && PAGED_VERBS.has(sub) ? pagerCommand(process.env, !!process.stdout.isTTY) : undefined;
  if (pager) {
    process.exitCode = await runPaged(argv, pager);
    return;
  }
  let line = [...argv];
  let profiles: InputFile[] = [];
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
  if (line.length !== argv.length) debug(`command line with its profiles: ${line.slice(2).join(' ')}`);
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
