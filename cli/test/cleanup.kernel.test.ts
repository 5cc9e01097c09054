// A SIGKILLed `collect --allow-system-changes` leaves its nftrace tables; `retrace cleanup`, or
// the next collect of any kind, finds them by their owner and removes them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { retraceBin, runRetrace } from '@retrace/e2e';
import { tempDir } from './helpers/files.js';

const tmp = tempDir('rt-cleanup-');
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  runRetrace(['cleanup']); // whatever a failed test left
  tmp.remove();
});

/** The host namespace's tables of the retrace process `pid`. */
function tablesOf(pid: number): string[] {
  const r = spawnSync('nft', ['list', 'tables', 'inet'], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/table inet (retrace_nftrace_\d+_(\d+)_\d+)/g)]
    .filter((m) => Number(m[2]) === pid)
    .map((m) => m[1] ?? '');
}

/** Starts collect with nft tracing tables, waits until it traces, then SIGKILLs it; returns its pid and tables. */
async function killedCollect(): Promise<{ pid: number; tables: string[] }> {
  const c = spawn(
    process.execPath,
    [retraceBin(), 'collect', '-c', 'nft', '--allow-system-changes', '-o', join(tmp.dir, 'nft.data')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child = c;
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/attached/.test(stderr)) resolve();
    });
    c.on('exit', (code) => reject(new Error(`collect exited (${code}) before tracing: ${stderr}`)));
  });
  const pid = c.pid ?? 0;
  const tables = tablesOf(pid);
  const exited = new Promise((r) => c.on('exit', r));
  c.kill('SIGKILL');
  await exited;
  child = undefined;
  return { pid, tables };
}

test('retrace cleanup removes the tables of a killed collect and says which', async () => {
  const { pid, tables } = await killedCollect();
  expect(tables).toHaveLength(1);
  expect(tablesOf(pid)).toEqual(tables); // SIGKILL: no cleanup of its own
  const r = runRetrace(['cleanup']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`removed ${tables[0]} (table inet left by retrace pid ${pid}, which no longer runs)`);
  expect(tablesOf(pid)).toEqual([]);
  expect(runRetrace(['cleanup']).stdout).not.toContain(`pid ${pid}`);
});

test('the next collect, without --allow-system-changes, removes them first', async () => {
  const { pid, tables } = await killedCollect();
  expect(tablesOf(pid)).toEqual(tables);
  const r = runRetrace(['collect', '-c', 'skb', '--duration', '100ms', '-o', join(tmp.dir, 'next.data')]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    `note: removed ${tables[0]} (table inet left by retrace pid ${pid}, which no longer runs)`,
  );
  expect(tablesOf(pid)).toEqual([]);
});
