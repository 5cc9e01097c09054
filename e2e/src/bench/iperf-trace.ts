// Benchmark: the packet path's cost. iperf3 TCP over a veth pair between two namespaces,
// untraced and traced, each as a ratio to untraced measured in the same run (every
// configuration runs ROUNDS times, interleaved, and the mean is reported):
//  - retrace collect (skb, skb-drop, skb-tracking, dev, ns) on 4 skb tracepoints, every event
//    written to a file: throughput, BPF time per recorded hit, userspace CPU per event;
//  - retrace with a filter that matches none of the traffic: throughput, BPF time per hit;
//  - bpftrace counting hits on the same tracepoints, and printing one line per hit.
// BPF time comes from the kernel's statistics (kernel.bpf_stats_enabled), which add their own
// cost to every program run: an empty program on the same tracepoints, in the same runs,
// measures it, and the goals are judged on retrace's time minus it (both are printed). The
// statistics and the empty program are on only in a shorter traced run of their own after each
// throughput run, so that throughput is what a trace costs without them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retraceBin } from '../lab/retrace-cli.js';
import { compileFilter, filterOptions } from '@retrace/agent';
import { probeFeatures } from '@retrace/ebpf-loader';
import {
  COLLECTORS,
  SECONDS,
  TRACEPOINTS,
  bpfRunTime,
  floorProgram,
  iperf,
  lab,
  loadedProgramIds,
  mean,
} from './packet-path-lab.js';

const ROUNDS = Number(process.env['RETRACE_BENCH_ROUNDS'] ?? 2);
/** The traced runs that measure BPF time (statistics on), after each throughput run. */
const STATS_SECONDS = Math.max(2, Math.ceil(SECONDS / 2));
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** utime + stime of a live process, in µs. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

interface Traced {
  bps: number;
  stderr: string;
  stdout: string;
  lines: number;
  /** CPU the tracer used from ready to exit (only when started through `withCpu`), µs. */
  cpu?: number;
}

/**
 * Runs `run` while a tracer runs. With `cpu`, the tracer's CPU time (all its threads) from ready
 * to the end of `run` is measured: the per-event work, without start-up (loading, verifying)
 * and shutdown, which cost the same however many events there are.
 */
async function withTracer(
  start: () => ChildProcess,
  ready: RegExp,
  run: () => number | Promise<number>,
  opts: { readyFile?: string; cpu?: boolean } = {},
): Promise<Traced> {
  const child = start();
  let stderr = '';
  let stdout = '';
  let lines = 0;
  // Keep the start and end of stdout (readiness, loss report); count the rest, as a terminal would consume it.
  child.stdout?.on('data', (d: Buffer) => {
    stdout = stdout.length < 4096 ? stdout + d.toString() : stdout.slice(0, 4096) + d.toString().slice(-512);
    for (const b of d) if (b === 10) lines++;
  });
  // 'close': the loss report is the last of stderr, which 'exit' can come before.
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  await new Promise<void>((resolveReady, reject) => {
    // Never wait forever for a line that does not come (seen once: bpftrace's, block-buffered).
    const late = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tracer not ready after 120 s (no output matching ${String(ready)}): ${stderr.slice(-300)}`));
    }, 120_000);
    const resolve = (): void => {
      clearTimeout(late);
      resolveReady();
    };
    void exited.then(() => clearTimeout(late));
    const check = (d: Buffer): void => {
      stderr += d.toString();
      if (ready.test(stderr) || ready.test(stdout)) resolve();
    };
    child.stderr?.on('data', check);
    child.stdout?.on('data', check);
    child.on('exit', (c) => reject(new Error(`tracer exited (${c}): ${stderr}`)));
    const readyFile = opts.readyFile;
    if (readyFile) {
      const t = setInterval(() => {
        if (existsSync(readyFile) && ready.test(readFileSync(readyFile, 'utf8').slice(0, 200))) {
          clearInterval(t);
          resolve();
        }
      }, 50);
      void exited.then(() => clearInterval(t));
    }
  });
  const pid = child.pid;
  const atReady = opts.cpu && pid ? cpuUs(pid) : 0;
  const bps = await run();
  const cpu = opts.cpu && pid ? cpuUs(pid) - atReady : undefined;
  child.kill('SIGINT');
  await exited;
  return { bps, stderr, stdout, lines, ...(cpu !== undefined ? { cpu } : {}) };
}

interface Run {
  bps: number;
  /** The size of the file the throughput run wrote. */
  bytes: number;
  events: number;
  lost: number;
  /** retrace's BPF programs: run time and runs, and the events written, in the statistics run. */
  bpf: { ns: number; runs: number };
  bpfEvents: number;
  /** The statistics' own cost per program run (the empty program), ns. */
  floor?: number;
  cpu?: number;
}

function gbit(bps: number): string {
  return `${(bps / 1e9).toFixed(2)} Gbit/s`;
}

function goal(what: string, met: boolean): string {
  return `goal (${what}): ${met ? 'met' : 'missed'}`;
}

async function main(): Promise<void> {
  const l = lab();
  const dir = mkdtempSync(join(tmpdir(), 'rt-bench-'));
  const out = join(dir, 'events.json');
  const traced = async (filter?: string): Promise<Run> => {
    const args = ['collect', '-c', COLLECTORS, ...TRACEPOINTS.flatMap((t) => ['-p', `tp:${t}`])];
    if (filter) args.push('-f', filter);
    const collect = (): ChildProcess =>
      spawn(process.execPath, [retraceBin(), ...args, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    const written = (t: Traced): { events: number; lost: number } => ({
      events: Number(/(\d+) event\(s\) written/.exec(t.stderr)?.[1] ?? NaN),
      lost: Number(/, (\d+) lost/.exec(t.stderr)?.[1] ?? NaN),
    });
    // Throughput and userspace CPU as a user's trace runs: without the kernel's statistics, which
    // add two clock reads to every program run, and without the floor program, a second program
    // on every hit (both were on in the throughput runs before: 3-4% of the filtered runs').
    const r = await withTracer(collect, /probe\(s\) attached/, () => iperf(l), { cpu: true });
    const bytes = statSync(out).size;
    // BPF time in a shorter trace of its own, with the statistics on (the floor program keeps
    // them on while it runs).
    let bpf = { ns: 0, runs: 0 };
    let floor: number | undefined;
    const others = loadedProgramIds();
    const timed = await withTracer(collect, /probe\(s\) attached/, async () => {
      const empty = floorProgram();
      await empty.ready;
      const before = bpfRunTime('probe_raw_tp', others);
      iperf(l, STATS_SECONDS);
      const after = bpfRunTime('probe_raw_tp', others);
      bpf = { ns: after.ns - before.ns, runs: after.runs - before.runs };
      floor = await empty.stop();
      return 0;
    });
    const w = written(r);
    const wt = written(timed);
    return {
      bps: r.bps,
      bytes,
      events: w.events,
      lost: w.lost + wt.lost,
      bpf,
      bpfEvents: wt.events,
      ...(floor !== undefined ? { floor } : {}),
      ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
    };
  };
  try {
    // Filters that match none of the iperf3 traffic (TCP on port 5201).
    const shortFilter = 'udp port 9';
    const longFilter = Array.from({ length: 12 }, (_, i) => `port ${7000 + i}`).join(' or ');
    const runs = { untraced: [] as number[], full: [] as Run[], short: [] as Run[], long: [] as Run[] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.untraced.push(iperf(l));
      runs.full.push(await traced());
      runs.short.push(await traced(shortFilter));
      runs.long.push(await traced(longFilter));
    }
    const probes = TRACEPOINTS.map((t) => `tracepoint:${t}`).join(',');
    const count = await withTracer(
      () =>
        spawn('bpftrace', ['-B', 'line', '-e', `${probes} { @hits = count(); }`], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      /Attaching \d+ probes/,
      () => iperf(l),
    );
    const printed = join(dir, 'bpftrace.txt');
    // Straight to a file: a pipe read by this process would stall while iperf3 runs (spawnSync).
    const printing = await withTracer(
      () =>
        spawn('bpftrace', ['-B', 'line', '-e', `${probes} { printf("%s %d\\n", probe, cpu); }`], {
          stdio: ['ignore', openSync(printed, 'w'), 'pipe'],
        }),
      /Attaching \d+ probes/,
      () => iperf(l),
      { readyFile: printed },
    );
    const printedText = readFileSync(printed, 'utf8');
    printing.lines = printedText.split('\n').length - 1;
    printing.stdout = printedText.slice(-2000);

    const untraced = mean(runs.untraced);
    const summary = (rs: Run[]) => {
      const bpfNs = rs.reduce((a, r) => a + r.bpf.ns, 0);
      const bpfRuns = rs.reduce((a, r) => a + r.bpf.runs, 0);
      const events = rs.reduce((a, r) => a + r.events, 0);
      const bpfEvents = rs.reduce((a, r) => a + r.bpfEvents, 0);
      const floor = mean(rs.flatMap((r) => (r.floor !== undefined ? [r.floor] : [])));
      const cpu = rs.reduce((a, r) => a + (r.cpu ?? NaN), 0);
      return {
        ratio: mean(rs.map((r) => r.bps)) / untraced,
        bps: mean(rs.map((r) => r.bps)),
        events,
        lost: rs.reduce((a, r) => a + r.lost, 0),
        perHit: bpfNs / bpfRuns,
        perEvent: bpfNs / bpfEvents,
        floor,
        cpuPerEvent: cpu / events,
      };
    };
    const full = summary(runs.full);
    const short = summary(runs.short);
    const long = summary(runs.long);
    console.log(
      `iperf3 TCP over veth between two namespaces, ${SECONDS}s per run, ${ROUNDS} rounds interleaved (means), same machine, same run`,
    );
    console.log(`untraced                        ${gbit(untraced)}   1.00x   (${runs.untraced.map(gbit).join(', ')})`);
    console.log(
      `retrace collect (5 collectors)  ${gbit(full.bps)}   ${full.ratio.toFixed(2)}x   ${Math.round(full.events / ROUNDS)} events per run (${Math.round(full.events / ROUNDS / SECONDS)}/s), ${full.lost} lost, ${(mean(runs.full.map((r) => r.bytes)) / 1e6).toFixed(0)} MB written`,
    );
    console.log(
      `  BPF per recorded hit: ${(full.perEvent - full.floor).toFixed(0)} ns (${full.perEvent.toFixed(0)} ns measured - ${full.floor.toFixed(0)} ns the statistics add to any program); per hit, recorded or not: ${full.perHit.toFixed(0)} ns measured`,
    );
    console.log(
      `  userspace (ring buffer to JSON on disk): ${full.cpuPerEvent.toFixed(2)} µs CPU per event (the collect process's CPU, all threads, while the traffic ran / events written)`,
    );
    console.log(`bpftrace counting hits          ${gbit(count.bps)}   ${(count.bps / untraced).toFixed(2)}x`);
    const bpftraceLost = /Lost (\d+) events/.exec(printing.stdout)?.[1] ?? '0';
    console.log(
      `bpftrace printing every hit     ${gbit(printing.bps)}   ${(printing.bps / untraced).toFixed(2)}x   ${printing.lines} lines (${Math.round(printing.lines / SECONDS)}/s), ${bpftraceLost} lost`,
    );
    for (const [name, f, expr] of [
      ['short', short, shortFilter],
      ['long', long, longFilter],
    ] as const)
      console.log(
        `retrace, ${name} filter matching nothing ${gbit(f.bps)}   ${f.ratio.toFixed(2)}x   BPF per rejected hit ${(f.perHit - f.floor).toFixed(0)} ns (${f.perHit.toFixed(0)} measured - ${f.floor.toFixed(0)}), ${compileFilter(expr, filterOptions(probeFeatures())).ebpfInstructions} eBPF instructions ('${expr.length > 40 ? `${expr.slice(0, 37)}...` : expr}')`,
      );
    console.log(goal('full capture >= 0.85x untraced with 0 lost', full.ratio >= 0.85 && full.lost === 0));
    console.log(goal('BPF <= 500 ns per recorded hit', full.perEvent - full.floor <= 500));
    console.log(goal('userspace <= 1 µs CPU per event', full.cpuPerEvent <= 1));
    console.log(goal('filter matching nothing >= 0.97x untraced', short.ratio >= 0.97));
    console.log(goal('<= 100 ns BPF per rejected hit', short.perHit - short.floor <= 100));
  } finally {
    l.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
