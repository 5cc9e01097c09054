// Benchmark: how long `retrace collect` takes from the command to "attached", with every probe
// this kernel offers, against the same command with one probe, in the same run (the median of
// RUNS each). The time covers everything a user waits for: node starting, the kernel's BTF,
// the feature checks, planning, loading (the verifier) and attaching. This development kernel
// has no kprobes: its probes are the raw tracepoints with an sk_buff (about 30), so 100 probes
// are projected from the measured cost per probe; the kernel lab attaches 100 kprobes and
// reports its own number (e2e/kernel-lab/guest-checks.sh, under emulation).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retraceBin } from '../lab/retrace-cli.js';

const RUNS = Number(process.env['RETRACE_BENCH_RUNS'] ?? 5);

interface Attach {
  /** From spawning the command to its "attached" line, ms. */
  wallMs: number;
  probes: number;
  /** What the command reports for loading and attaching alone, ms. */
  attachMs: number;
}

function attachOnce(probes: string[], out: string): Promise<Attach> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [retraceBin(), 'collect', ...probes.flatMap((p) => ['-p', p]), '-o', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let done = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /(\d+) probe\(s\) attached in (\d+) ms/.exec(stderr);
      if (m && !done) {
        done = true;
        const wallMs = performance.now() - started;
        child.on('exit', () => resolve({ wallMs, probes: Number(m[1]), attachMs: Number(m[2]) }));
        child.kill('SIGINT');
      }
    });
    child.on('exit', (code) => {
      if (!done) reject(new Error(`retrace collect exited (${code}) before attaching: ${stderr.slice(-500)}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-attach-'));
  try {
    const out = join(dir, 'events.json');
    // Every probe point by name (what `tp:*` expands to), so that the comparison is about
    // probes, not about expanding a pattern over every tracepoint of the kernel.
    const listed = spawnSync(process.execPath, [retraceBin(), 'inspect', '-p', 'tp:*'], { encoding: 'utf8' });
    const every = listed.stdout.split('\n').flatMap((l) => (l.startsWith('tp:') ? [l.split(/\s+/)[0] as string] : []));
    if (every.length < 2)
      throw new Error(`retrace inspect -p 'tp:*' listed ${every.length} probe(s): ${listed.stderr}`);
    const one: Attach[] = [];
    const all: Attach[] = [];
    for (let i = 0; i < RUNS; i++) {
      one.push(await attachOnce(['tp:net:netif_receive_skb'], out));
      all.push(await attachOnce(every, out));
    }
    const oneMs = median(one.map((a) => a.wallMs));
    const allMs = median(all.map((a) => a.wallMs));
    // retrace adds tracking-only probes (skb freeing points) to what was asked for
    const n = all[0]?.probes ?? 0;
    const m = one[0]?.probes ?? 1;
    const perProbe = Math.max(0, (allMs - oneMs) / (n - m));
    const projected = oneMs + (100 - m) * perProbe;
    console.log(`retrace collect, from the command to "attached" (median of ${RUNS}), this kernel's raw tracepoints`);
    console.log(
      `  ${String(m).padStart(3)} probe(s) (tp:net:netif_receive_skb): ${oneMs.toFixed(0)} ms; loading and attaching alone ${median(one.map((a) => a.attachMs))} ms`,
    );
    console.log(
      `  ${String(n).padStart(3)} probe(s) (every tracepoint with an sk_buff, by name): ${allMs.toFixed(0)} ms; loading and attaching alone ${median(all.map((a) => a.attachMs))} ms`,
    );
    console.log(
      `  each probe more: ${perProbe.toFixed(1)} ms; 100 probes projected: ${projected.toFixed(0)} ms (this kernel has ${n}; the kernel lab attaches 100 kprobes)`,
    );
    console.log(`goal (100 probes attached in under 1 s): ${projected < 1000 ? 'met' : 'missed'} (projected)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
