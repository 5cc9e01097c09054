// What the packet-path benchmarks share: iperf3 TCP over a veth pair between two namespaces, the
// kernel's BPF run-time statistics, and the empty program that measures what those statistics
// add to every program run (bpf/bench/op_cost with op_empty on the same tracepoints).
import { spawn, spawnSync } from 'node:child_process';
import { bpfArtifactPath } from '@retrace/ebpf-loader';
import { Netns } from '../lab/netns.js';

export const SECONDS = Number(process.env['RETRACE_BENCH_SECONDS'] ?? 5);
export const TRACEPOINTS = ['net:netif_receive_skb', 'net:net_dev_start_xmit', 'skb:consume_skb', 'skb:kfree_skb'];
/** The collectors of a full capture in these benchmarks. */
export const COLLECTORS = 'skb,skb-drop,skb-tracking,dev,ns';

export interface Lab {
  a: Netns;
  b: Netns;
  destroy(): void;
}

export function lab(): Lab {
  const a = Netns.create('bench-a');
  const b = Netns.create('bench-b');
  a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
  a.ip('addr', 'add', '10.99.0.1/24', 'dev', 'va');
  b.ip('addr', 'add', '10.99.0.2/24', 'dev', 'vb');
  a.ip('link', 'set', 'va', 'up');
  b.ip('link', 'set', 'vb', 'up');
  return { a, b, destroy: () => [a, b].forEach((n) => n.destroy()) };
}

/** iperf3 from a to b for `seconds`; bits per second received. */
export function iperf(l: Lab, seconds = SECONDS): number {
  const server = spawn('ip', ['netns', 'exec', l.b.name, 'iperf3', '-s', '-1'], { stdio: 'ignore' });
  spawnSync('sleep', ['0.3']);
  const r = spawnSync('ip', ['netns', 'exec', l.a.name, 'iperf3', '-c', '10.99.0.2', '-t', String(seconds), '-J'], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  server.kill();
  if (r.status !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second;
}

interface ProgInfo {
  id: number;
  name?: string;
  run_time_ns?: number;
  run_cnt?: number;
}

function programs(): ProgInfo[] {
  const r = spawnSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(r.stdout || '[]') as ProgInfo[];
}

/** Ids of the BPF programs loaded now: what a measurement must leave out. */
export function loadedProgramIds(): Set<number> {
  return new Set(programs().map((p) => p.id));
}

/** Total run time and runs of the programs named `prefix`* that are not in `exclude`. */
export function bpfRunTime(prefix: string, exclude: Set<number> = new Set()): { ns: number; runs: number } {
  let ns = 0;
  let runs = 0;
  for (const p of programs())
    if (p.name?.startsWith(prefix) && !exclude.has(p.id)) {
      ns += p.run_time_ns ?? 0;
      runs += p.run_cnt ?? 0;
    }
  return { ns, runs };
}

/**
 * bpf/bench/op_cost running programs of bpf/tests/op_cost.bpf.c (`NAME`: where its section says,
 * `NAME@TRACEPOINT`: on that raw tracepoint); it turns the kernel's statistics on while it runs.
 * `ready` resolves once they are attached; `stop` closes its stdin and resolves to each program's
 * average run time per hit (ns).
 */
export function opCost(programs: string[]): { ready: Promise<void>; stop: () => Promise<Map<string, number>> } {
  const child = spawn(bpfArtifactPath('bench/op_cost'), [bpfArtifactPath('tests/op_cost.bpf.o'), ...programs], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  // 'close', not 'exit': the statistics are its last lines, and 'exit' can come before its
  // stdout is read to the end (a run reported "no statistics" for an op now and then).
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`op_cost ${programs.join(' ')} exited before it was ready`)));
  });
  return {
    ready,
    stop: async () => {
      child.stdin.end();
      await exited;
      const ns = new Map<string, number>();
      for (const line of out.split('\n'))
        if (line.startsWith('{')) {
          const j = JSON.parse(line) as { name: string; run_time_ns: number; run_cnt: number };
          if (j.run_cnt) ns.set(j.name, j.run_time_ns / j.run_cnt);
        }
      return ns;
    },
  };
}

/** An empty program on TRACEPOINTS: what the statistics alone add to a program run (ns per hit). */
export function floorProgram(): { ready: Promise<void>; stop: () => Promise<number | undefined> } {
  const run = opCost(TRACEPOINTS.map((t) => `op_empty@${t.slice(t.indexOf(':') + 1)}`));
  return { ready: run.ready, stop: async () => (await run.stop()).get('op_empty') };
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
}
