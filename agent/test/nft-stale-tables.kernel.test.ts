// Stale nftrace tables, in a network namespace of the test's own: a table is removed only when
// it is provably ours and its owner (pid namespace, pid, start time) no longer runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { NftCollector } from '@retrace/agent';

const NS = `rtlab-stale-${process.pid}-1`;
const nsPath = `/run/netns/${NS}`;
const inNs = (...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', NS, 'nft', ...args], { encoding: 'utf8' });
const tables = (): string[] => [...inNs('list', 'tables', 'inet').matchAll(/table inet (\S+)/g)].map((m) => m[1] ?? '');

const pidns = Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1]);
const stat = readFileSync('/proc/self/stat', 'utf8');
const myStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);

/** A pid no process has any more: one of a process that ran and exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

beforeAll(() => execFileSync('ip', ['netns', 'add', NS]));
afterAll(() => execFileSync('ip', ['netns', 'del', NS]));

test('dead owners, reused pids and old names go; live owners, other pid namespaces and other tables stay', () => {
  const dead = deadPid();
  const names = {
    dead: `retrace_nftrace_${pidns}_${dead}_${myStart}`,
    reused: `retrace_nftrace_${pidns}_${process.pid}_${myStart + 1}`,
    old: `retrace_nftrace_${dead}`,
    live: `retrace_nftrace_${pidns}_${process.pid}_${myStart}`,
    otherPidns: `retrace_nftrace_${pidns + 1}_${dead}_${myStart}`,
    notOurs: 'retrace_trace',
  };
  for (const t of Object.values(names)) inNs('add', 'table', 'inet', t);

  const removed = NftCollector.removeStaleTables().filter((r) => r.netns === statSync(nsPath).ino);
  expect(removed.map((r) => r.table).sort()).toEqual([names.dead, names.old, names.reused].sort());
  expect(removed.find((r) => r.table === names.dead)?.pid).toBe(dead);
  expect(tables().sort()).toEqual([names.live, names.otherPidns, names.notOurs].sort());
  // Nothing left to do the second time.
  expect(NftCollector.removeStaleTables().filter((r) => r.netns === statSync(nsPath).ino)).toEqual([]);
});
