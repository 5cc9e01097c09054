// Benchmark: how long the CLI takes to start, against `node -e 0` in the same run. `retrace
// --version` and `retrace print FILE` (retis's test events) load only what they use: the cluster
// verbs' Kubernetes client and the operator's code load when a cluster verb runs. Best of 7 each.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { retraceBin } from '../lab/retrace-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const events = join(here, '..', '..', '..', 'packages', 'events', 'test', 'fixtures', 'test_events.jsonl');

function best(args: string[], runs = 7): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr.toString()}`);
    min = Math.min(min, ms);
  }
  return min;
}

const base = best(['-e', '0']);
console.log(`CLI start-up (best of 7; goal: within 300 ms of node -e 0)`);
console.log(`  baseline node -e 0: ${base.toFixed(0)} ms`);
for (const [what, args] of [
  ['retrace --version', [retraceBin(), '--version']],
  ['retrace print FILE', [retraceBin(), 'print', events]],
  ['retrace events --help', [retraceBin(), 'events', '--help']],
] as const) {
  const ms = best([...args]);
  console.log(`  ${what}: ${ms.toFixed(0)} ms (+${(ms - base).toFixed(0)} ms, ${(ms / base).toFixed(1)}x baseline)`);
}
