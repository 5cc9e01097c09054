// Benchmark: iperf3 TCP over a veth pair between two namespaces, untraced and traced, each as a
// ratio to untraced measured in the same run:
//  - retrace collect (skb, skb-drop, skb-tracking, dev, ns) on 4 skb tracepoints, every event
//    written to a file;
//  - bpftrace counting hits on the same tracepoints;
//  - bpftrace printing one line per hit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../lab/netns.js';
import { retraceBin } from '../lab/retrace-cli.js';
import { compileFilter } from '@retrace/agent';

const SECONDS = Number(process.env['RETRACE_BENCH_SECONDS'] ?? 5);
const TRACEPOINTS = ['net:netif_receive_skb', 'net:net_dev_start_xmit', 'skb:consume_skb', 'skb:kfree_skb'];

interface Lab {
  a: Netns;
  b: Netns;
  destroy(): void;
}

function lab(): Lab {
  const a = Netns.create('bench-a');
  const b = Netns.create('bench-b');
  a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
  a.ip('addr', 'add', '10.99.0.1/24', 'dev', 'va');
  b.ip('addr', 'add', '10.99.0.2/24', 'dev', 'vb');
  a.ip('link', 'set', 'va', 'up');
  b.ip('link', 'set', 'vb', 'up');
  return { a, b, destroy: () => [a, b].forEach((n) => n.destroy()) };
}

function iperf(l: Lab): number {
  const server = spawn('ip', ['netns', 'exec', l.b.name, 'iperf3', '-s', '-1'], { stdio: 'ignore' });
  spawnSync('sleep', ['0.3']);
  const r = spawnSync('ip', ['netns', 'exec', l.a.name, 'iperf3', '-c', '10.99.0.2', '-t', String(SECONDS), '-J'], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  server.kill();
  if (r.status !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second;
}

async function withTracer(
  start: () => ChildProcess,
  ready: RegExp,
  run: () => number,
  readyFile?: string,
): Promise<{ bps: number; stderr: string; stdout: string; lines: number }> {
  const child = start();
  let stderr = '';
  let stdout = '';
  let lines = 0;
  // Keep the start and end of stdout (readiness, loss report); count the rest, as a terminal would consume it.
  child.stdout?.on('data', (d: Buffer) => {
    stdout = stdout.length < 4096 ? stdout + d.toString() : stdout.slice(0, 4096) + d.toString().slice(-512);
    for (const b of d) if (b === 10) lines++;
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const check = (d: Buffer): void => {
      stderr += d.toString();
      if (ready.test(stderr) || ready.test(stdout)) resolve();
    };
    child.stderr?.on('data', check);
    child.stdout?.on('data', check);
    child.on('exit', (c) => reject(new Error(`tracer exited (${c}): ${stderr}`)));
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
  const bps = run();
  child.kill('SIGINT');
  await exited;
  return { bps, stderr, stdout, lines };
}

/** Average BPF run time per hit of retrace's probe programs (kernel.bpf_stats_enabled). */
function bpfNsPerHit(): number | undefined {
  const r = spawnSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' });
  const progs = JSON.parse(r.stdout || '[]') as { name?: string; run_time_ns?: number; run_cnt?: number }[];
  let ns = 0;
  let cnt = 0;
  for (const p of progs)
    if (p.name?.startsWith('probe_raw_tp')) {
      ns += p.run_time_ns ?? 0;
      cnt += p.run_cnt ?? 0;
    }
  return cnt ? ns / cnt : undefined;
}

function gbit(bps: number): string {
  return `${(bps / 1e9).toFixed(2)} Gbit/s`;
}

async function main(): Promise<void> {
  const l = lab();
  const dir = mkdtempSync(join(tmpdir(), 'rt-bench-'));
  try {
    const untraced = iperf(l);
    const out = join(dir, 'events.json');
    const traced = async (filter?: string): Promise<{ bps: number; events: number; lost: number; ns?: number }> => {
      let ns: number | undefined;
      const args = [
        'collect',
        '-c',
        'skb,skb-drop,skb-tracking,dev,ns',
        ...TRACEPOINTS.flatMap((t) => ['-p', `tp:${t}`]),
      ];
      if (filter) args.push('-f', filter);
      const r = await withTracer(
        () => spawn(process.execPath, [retraceBin(), ...args, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] }),
        /probe\(s\) attached/,
        () => {
          spawnSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
          const bps = iperf(l);
          ns = bpfNsPerHit();
          spawnSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=0']);
          return bps;
        },
      );
      return {
        bps: r.bps,
        events: Number(/(\d+) event\(s\) written/.exec(r.stderr)?.[1] ?? NaN),
        lost: Number(/, (\d+) lost/.exec(r.stderr)?.[1] ?? NaN),
        ...(ns !== undefined ? { ns } : {}),
      };
    };
    const full = await traced();
    const size = statSync(out).size;
    const retrace = { bps: full.bps };
    const written = full.events;
    const lost = full.lost;
    const bpfNs = full.ns;
    // Filters that match none of the iperf3 traffic (TCP on port 5201).
    const shortFilter = 'udp port 9';
    const longFilter = Array.from({ length: 12 }, (_, i) => `port ${7000 + i}`).join(' or ');
    const short = await traced(shortFilter);
    const long = await traced(longFilter);
    const probes = TRACEPOINTS.map((t) => `tracepoint:${t}`).join(',');
    const count = await withTracer(
      () => spawn('bpftrace', ['-e', `${probes} { @hits = count(); }`], { stdio: ['ignore', 'pipe', 'pipe'] }),
      /Attaching \d+ probes/,
      () => iperf(l),
    );
    const printed = join(dir, 'bpftrace.txt');
    // Straight to a file: a pipe read by this process would stall while iperf3 runs (spawnSync).
    const printing = await withTracer(
      () =>
        spawn('bpftrace', ['-e', `${probes} { printf("%s %d\\n", probe, cpu); }`], {
          stdio: ['ignore', openSync(printed, 'w'), 'pipe'],
        }),
      /Attaching \d+ probes/,
      () => iperf(l),
      printed,
    );
    const printedText = readFileSync(printed, 'utf8');
    printing.lines = printedText.split('\n').length - 1;
    printing.stdout = printedText.slice(-2000);
    console.log(`iperf3 TCP over veth between two namespaces, ${SECONDS}s per run, same machine, same run`);
    console.log(`untraced                      ${gbit(untraced)}   1.00x`);
    console.log(
      `retrace collect (5 collectors) ${gbit(retrace.bps)}   ${(retrace.bps / untraced).toFixed(2)}x   ${written} events (${Math.round(written / SECONDS)}/s), ${lost} lost, ${(size / 1e6).toFixed(0)} MB written, BPF ${bpfNs?.toFixed(0) ?? '?'} ns per hit`,
    );
    console.log(`bpftrace counting hits         ${gbit(count.bps)}   ${(count.bps / untraced).toFixed(2)}x`);
    const bpftraceLost = /Lost (\d+) events/.exec(printing.stdout)?.[1] ?? '0';
    console.log(
      `bpftrace printing every hit    ${gbit(printing.bps)}   ${(printing.bps / untraced).toFixed(2)}x   ${printing.lines} lines (${Math.round(printing.lines / SECONDS)}/s), ${bpftraceLost} lost`,
    );
    for (const [name, f, expr] of [
      ['short', short, shortFilter],
      ['long', long, longFilter],
    ] as const)
      console.log(
        `retrace, ${name} filter matching nothing ${gbit(f.bps)}   ${(f.bps / untraced).toFixed(2)}x   BPF ${f.ns?.toFixed(0) ?? '?'} ns per hit, ${compileFilter(expr).ebpfInstructions} eBPF instructions ('${expr.length > 40 ? `${expr.slice(0, 37)}...` : expr}')`,
      );
    const ratio = retrace.bps / untraced;
    console.log(`goal (filter matching nothing >= 0.97x untraced): ${short.bps / untraced >= 0.97 ? 'met' : 'missed'}`);
    console.log(`goal (retrace >= 0.80x untraced with 0 lost): ${ratio >= 0.8 && lost === 0 ? 'met' : 'missed'}`);
  } finally {
    l.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
