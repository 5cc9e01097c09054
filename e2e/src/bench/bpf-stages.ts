// Benchmark: where the BPF time of a recorded hit goes. The same full capture as iperf-trace
// (5 collectors, 4 tracepoints, iperf3 over veth), once per profiling build of the probe that
// stops after a stage of chain_emit() (`make -C bpf stages`; RETRACE_STAGE in
// bpf/include/chain.bpf.h) and once with the real probe. Each build's time per hit from the
// kernel's statistics, minus what the statistics add (an empty program in the same run); a
// stage costs the difference between its build and the one before. ROUNDS interleaved runs.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfArtifactPath, bpfObjectPath, probeFeatures } from '@retrace/ebpf-loader';
import { retraceBin } from '../lab/retrace-cli.js';
import {
  COLLECTORS,
  TRACEPOINTS,
  bpfRunTime,
  floorProgram,
  iperf,
  lab,
  loadedProgramIds,
  mean,
  type Lab,
} from './packet-path-lab.js';

const SECONDS = Number(process.env['RETRACE_BENCH_STAGE_SECONDS'] ?? 3);
const ROUNDS = Number(process.env['RETRACE_BENCH_ROUNDS'] ?? 2);
const STAGES = [
  'probe id, config, skb, scope and filter checks',
  'hit counter, timestamp',
  'ring buffer reservation',
  'record header, task, skb-tracking (and forgetting freed skbs)',
  'skb-drop, dev, ns, skb sections',
  'packet bytes',
  'submit (and wake-up check), collector parts, stack',
];

/** ns per hit of one build (net of the statistics' own cost), with its BPF object folder. */
async function measure(l: Lab, dir: string): Promise<number> {
  const others = loadedProgramIds();
  const child = spawn(
    process.execPath,
    [retraceBin(), 'collect', '-c', COLLECTORS, ...TRACEPOINTS.flatMap((t) => ['-p', `tp:${t}`]), '-o', '/dev/null'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RETRACE_BPF_DIR: dir } },
  );
  let stderr = '';
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/probe\(s\) attached/.test(stderr)) resolve();
    });
    child.on('exit', (c) => reject(new Error(`retrace collect exited (${c}): ${stderr.slice(-400)}`)));
  });
  const empty = floorProgram();
  await empty.ready;
  const before = bpfRunTime('probe_raw_tp', others);
  iperf(l, SECONDS);
  const after = bpfRunTime('probe_raw_tp', others);
  const floor = await empty.stop();
  child.kill('SIGINT');
  await exited;
  const runs = after.runs - before.runs;
  if (!runs || floor === undefined) throw new Error(`no hits measured (${stderr.slice(-300)})`);
  return (after.ns - before.ns) / runs - floor;
}

async function main(): Promise<void> {
  const direct = probeFeatures().direct_reads.available;
  const object = direct ? 'probe' : 'probe_compat';
  // One folder per build: everything of bpf/.output, the probe replaced by the stage's build.
  const real = bpfObjectPath(object);
  const root = mkdtempSync(join(tmpdir(), 'rt-stages-'));
  const dirs = STAGES.map((_, i) => {
    const dir = join(root, String(i));
    cpSync(join(real, '..'), dir, { recursive: true, filter: (src) => !src.includes('/stages') });
    if (i < STAGES.length - 1)
      copyFileSync(bpfArtifactPath(`stages/${object}-${i}.bpf.o`), join(dir, `${object}.bpf.o`));
    return dir;
  });
  const l = lab();
  try {
    const ns: number[][] = STAGES.map(() => []);
    for (let r = 0; r < ROUNDS; r++)
      for (const [i, dir] of dirs.entries()) (ns[i] as number[]).push(await measure(l, dir));
    const cumulative = ns.map(mean);
    console.log(
      `BPF time per hit by stage of chain_emit() (${object}.bpf.o; ${COLLECTORS} on ${TRACEPOINTS.length} tracepoints, iperf3 over veth, ${SECONDS}s x ${ROUNDS} per build; net of the statistics' own cost)`,
    );
    console.log('  stage                                                              ns/hit  cumulative');
    let prev = 0;
    for (const [i, name] of STAGES.entries()) {
      const c = cumulative[i] as number;
      console.log(
        `  ${String(i)}. ${name.padEnd(63)} ${(c - prev).toFixed(0).padStart(6)}  ${c.toFixed(0).padStart(10)}`,
      );
      prev = c;
    }
  } finally {
    l.destroy();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
