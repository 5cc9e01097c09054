// `retrace collect`: trace on this host, write retis-compatible events and/or print them.
import { spawn } from 'node:child_process';
import { TracingSession, tracefsDir, type JsonLines, type SessionCounts } from '@retrace/agent';
import { formatEvent, stringifyEvent, type Event, type FormatOptions } from '@retrace/events';
import { LineWriter } from '../output/line-writer.js';
import { StatusLine } from '../output/status.js';
import { monotonicNow, startupEvent } from '../startup.js';
import { UsageError } from '../usage-error.js';
import { positiveInt, seconds, skbSections, type TracingFlags } from './collect-flags.js';
import { mountTracefs } from '../system-changes.js';
import { removeStaleNftTables } from './cleanup.js';
import { refuseOverwrite, type InputFile } from '../output/same-file.js';
import { probeFeatures } from '@retrace/ebpf-loader';
import { kernelConfig } from '../kernel-config.js';
import { debug } from '../log-level.js';
import { probeStackStart } from './probe-stack.js';
import { RotatingLineWriter, parseRotateSize, refuseExistingSet } from '../output/rotating-writer.js';
import { DEFAULT_OUT } from './input.js';

/** `retrace collect`'s flags: the shared tracing flags and those of a local run. */
export interface CollectOptions extends TracingFlags {
  out?: string | boolean;
  outRotate?: string;
  print?: boolean;
  format?: 'single-line' | 'multi-line';
  utc?: boolean;
  e?: boolean;
  cmd?: string;
  ringSize?: string;
  probeStack?: boolean;
  /** The kernel's build configuration (--kconf; default: found where retis looks). */
  kconf?: string;
}

/** The largest ring buffer asked for: 1 GiB (the kernel's limit is near 2 GiB, memory is the real one). */
const MAX_RING = 2 ** 30;

function ringBytes(v: string | undefined): number | undefined {
  const n = positiveInt('--ring-size', v);
  if (n === undefined) return undefined;
  // Math.log2, not n & (n - 1): bitwise operators wrap above 2^31 and let 2^32 pass.
  if (n < 4096 || !Number.isInteger(Math.log2(n)))
    throw new UsageError(`--ring-size must be a power of two of at least 4096 bytes, got ${n}`);
  if (n > MAX_RING) throw new UsageError(`--ring-size ${n} is too large: at most ${MAX_RING} (1 GiB)`);
  return n;
}

/** `profiles`: the profile files the command line used (inputs the output must not replace). */
export async function collect(
  opts: CollectOptions,
  argv: string[],
  profiles: readonly InputFile[] = [],
): Promise<number> {
  const stopAfter = positiveInt('--stop-after', opts.stopAfter);
  const duration = seconds(opts.duration);
  const sections = skbSections(opts.skbSections);
  const ring = ringBytes(opts.ringSize);
  const outPath = opts.out === true ? DEFAULT_OUT : typeof opts.out === 'string' ? opts.out : undefined;
  const rotate = opts.outRotate === undefined ? undefined : parseRotateSize(opts.outRotate);
  if (rotate !== undefined && !outPath)
    throw new UsageError('--out-rotate needs -o/--out FILE (the files are FILE.0, FILE.1, ...)');
  if (rotate !== undefined && outPath === '-')
    throw new UsageError('--out-rotate needs -o FILE: standard output cannot be rotated');
  const printing = !outPath || !!opts.print;
  const fmt: FormatOptions = { format: opts.format ?? 'multi-line', utc: !!opts.utc, link: !!opts.e };
  refuseOverwrite('-o', outPath, profiles);
  // --kconf and --probe-stack (flags.md): the configuration says why kprobes are missing.
  const kconf = opts.kconf !== undefined || opts.probeStack ? kernelConfig(opts.kconf) : undefined;
  if (kconf) debug(`kernel configuration: ${kconf.path}`);
  const probes = probeStackStart(opts, probeFeatures, kconf);
  // Before any change to the system: files of an earlier set are never replaced.
  if (outPath && rotate !== undefined) refuseExistingSet(outPath);
  // Tables of a killed retrace would keep every packet traced by nftables: gone before we start.
  for (const line of removeStaleNftTables()) process.stderr.write(`note: ${line}\n`);

  let unmount: (() => void) | undefined;
  if (!tracefsDir()) {
    if (opts.allowSystemChanges) unmount = mountTracefs();
    else
      process.stderr.write(
        'note: tracefs is not mounted; tracepoint categories come from your probe names (mount it, or use --allow-system-changes)\n',
      );
  }

  let done: (why: string) => void = () => {};
  const finished = new Promise<string>((r) => (done = r));
  // A failed write (a full disk) stops the run: what follows would be lost too.
  const stopOn = (e: Error): void => {
    const path = 'path' in e && typeof e.path === 'string' ? e.path : 'from' in e ? String(e.from) : outPath;
    done(`cannot write ${path === '-' ? 'standard output' : path}`);
  };
  const cmdline = argv.join(' ');
  const startup = startupEvent(cmdline, rotate === undefined ? undefined : { id: 0, limit: rotate });
  const offset = startup.startup?.clock_monotonic_offset;
  if (offset) fmt.clockOffset = offset;
  let file: LineWriter | RotatingLineWriter | undefined;
  try {
    if (outPath && rotate !== undefined)
      file = new RotatingLineWriter(outPath, {
        limit: rotate,
        // Every file of the set starts with the same startup event but its own index.
        startup: (id) => {
          const s = startupEvent(cmdline, { id, limit: rotate });
          if (s.startup && startup.startup) s.startup.clock_monotonic_offset = startup.startup.clock_monotonic_offset;
          return stringifyEvent(s);
        },
        onError: stopOn,
      });
    else if (outPath) {
      file = new LineWriter(outPath, { onError: stopOn });
      file.line(stringifyEvent(startup));
    }
  } catch (e) {
    unmount?.();
    throw e;
  }
  const printer = printing ? new LineWriter('-', { onError: stopOn }) : undefined;

  let emitted = 0;
  // Events out (as many of n as --stop-after lets through): the file gets their JSON lines, the
  // terminal their text.
  const take = (n: number): number => {
    const k = stopAfter === undefined ? n : Math.max(0, Math.min(n, stopAfter - emitted));
    emitted += k;
    if (k && stopAfter !== undefined && emitted >= stopAfter)
      setImmediate(() => done(`--stop-after ${stopAfter} reached`));
    return k;
  };
  // Printing counts events as it prints them; the file takes every line then.
  const onJsonLines = (lines: JsonLines): void => file?.lines(lines, 0, printer ? lines.count : take(lines.count));
  const onEvent = (ev: Event): void => {
    if (!take(1)) return;
    printer?.line(formatEvent(ev, fmt));
    if (fmt.format !== 'single-line') printer?.line('');
  };

  let badRecords = 0;
  let session: TracingSession;
  try {
    session = TracingSession.start({
      collectors: opts.collectors,
      probes,
      stack: !!opts.stack,
      probeStack: !!opts.probeStack,
      ...(opts.filterPacket ? { filter: opts.filterPacket } : {}),
      ...(opts.filterMeta ? { metaFilter: opts.filterMeta } : {}),
      skbSections: sections,
      ...(opts.nftVerdicts ? { nftVerdicts: opts.nftVerdicts } : {}),
      allowSystemChanges: !!opts.allowSystemChanges,
      ovsTrack: !!opts.ovsTrack,
      ovsEnrichFlows: !!opts.ovsEnrichFlows,
      ...(opts.ovsEnrichRate ? { ovsEnrichRate: positiveInt('--ovs-enrich-rate', opts.ovsEnrichRate) } : {}),
      onNote: (m) => process.stderr.write(`note: ${m}\n`),
      ...(ring ? { ringBytes: ring } : {}),
      ...(file ? { onJsonLines } : {}),
      ...(printer ? { onEvent } : {}),
      onRecordError: (e) => {
        if (badRecords++ < 5) process.stderr.write(`warning: ${e.message}\n`);
      },
    });
  } catch (e) {
    closeQuietly(file);
    unmount?.();
    throw e;
  }
  if (session.filter)
    process.stderr.write(
      `packet filter '${session.filter.expression}': ${session.filter.cbpfInstructions} classic BPF -> ${session.filter.ebpfInstructions} eBPF instructions` +
        (session.filter.l3
          ? ', L2+L3\n'
          : `, L2 only (${session.filter.l3Unavailable}: packets without a link layer never match)\n`),
    );
  for (const s of session.skippedCollectors)
    process.stderr.write(`note: collector ${s.name} not started: ${s.reason}\n`);
  const active = session.probes.filter((p) => !p.silent);
  process.stderr.write(
    `${active.length} probe(s) attached in ${session.attachMs.toFixed(0)} ms: ${probeSummary(active)}\n`,
  );

  const status = new StatusLine(() => {
    const c = session.counts();
    return { events: emitted, lost: c.lost, probes: active.length };
  });
  status.start();

  const onSignal = (sig: NodeJS.Signals): void => done(sig);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let timer: NodeJS.Timeout | undefined;
  if (duration !== undefined) timer = setTimeout(() => done(`--duration ${duration}s elapsed`), duration * 1000);
  let cmdStatus: number | null = null;
  if (opts.cmd) {
    const child = spawn('sh', ['-c', opts.cmd], { stdio: 'inherit' });
    child.on('exit', (code, signal) => {
      cmdStatus = code ?? (signal ? 128 : 1);
      done(`command exited (${code ?? signal})`);
    });
    child.on('error', (e) => done(`command failed to start: ${e.message}`));
  }
  const why = await finished;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  status.stop();

  const counts: SessionCounts = session.stop();
  const now = monotonicNow();
  for (const p of counts.perProbe)
    if (p.lost > 0) {
      const lostEvent: Event = {
        common: { timestamp: now },
        lost: { probe: `${p.probeType}/${p.symbol}`, count: BigInt(p.lost) },
      };
      file?.line(stringifyEvent(lostEvent));
    }
  const writeError = closeAll([file, printer]);
  unmount?.();

  process.stderr.write(`stopped: ${why}\n`);
  if (!writeError)
    process.stderr.write(
      `${emitted} event(s) ${outPath ? `written to ${written(outPath, file)}` : 'printed'}, ${counts.lost} lost\n`,
    );
  else if (counts.lost) process.stderr.write(`${counts.lost} event(s) lost in the kernel (ring buffer full)\n`);
  for (const p of counts.perProbe) if (p.lost > 0) process.stderr.write(`  lost ${p.lost} event(s) from ${p.symbol}\n`);
  if (counts.badRecords) process.stderr.write(`  ${counts.badRecords} record(s) could not be decoded\n`);
  if (counts.followed)
    process.stderr.write(
      `  ${counts.followed} packet(s) still followed at exit (in flight, or freed where no probe saw it)\n`,
    );
  for (const line of session.summary()) process.stderr.write(`${line}\n`);
  if (cmdStatus !== null && cmdStatus !== 0)
    process.stderr.write(`note: the command exited with status ${cmdStatus}\n`);
  if (writeError) throw writeError;
  return 0;
}

/** Where the events went: the file, or the files of the rotated set. */
function written(outPath: string, file: LineWriter | RotatingLineWriter | undefined): string {
  if (!(file instanceof RotatingLineWriter)) return outPath;
  const n = file.files;
  return n === 1 ? `${outPath}.0` : `${outPath}.0 .. ${outPath}.${n - 1} (${n} files; read them with ${outPath}.0..)`;
}

function closeQuietly(w: LineWriter | RotatingLineWriter | undefined): void {
  try {
    w?.close();
  } catch {
    // the error that brought us here is the one to report
  }
}

/** Closes every writer; the first write error, if any, is returned for the report. */
function closeAll(writers: (LineWriter | RotatingLineWriter | undefined)[]): Error | undefined {
  let first: Error | undefined;
  for (const w of writers)
    try {
      w?.close();
    } catch (e) {
      first ??= e as Error;
    }
  return first;
}

/** The probes by name, or by mechanism when there are too many to list. */
function probeSummary(probes: { symbol: string; mechanism: string }[]): string {
  if (probes.length <= 20) return probes.map((p) => `${p.symbol} (${p.mechanism})`).join(', ');
  const by = new Map<string, number>();
  for (const p of probes) by.set(p.mechanism, (by.get(p.mechanism) ?? 0) + 1);
  return [...by].map(([m, n]) => `${n} via ${m}`).join(', ');
}
