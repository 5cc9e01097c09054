// `retrace cleanup`: removes what a retrace killed before its own cleanup left in the kernel:
// the nftrace tables of `collect --allow-system-changes` (every collect also does this first).
import { NftCollector } from '@retrace/agent';
import { UsageError } from '../usage-error.js';

/** Removes the stale nftrace tables of every namespace; one line per table removed. */
export function removeStaleNftTables(): string[] {
  const byTable = new Map<string, { pid: number; netns: number[] }>();
  for (const t of NftCollector.removeStaleTables()) {
    const entry = byTable.get(t.table) ?? { pid: t.pid, netns: [] };
    entry.netns.push(t.netns);
    byTable.set(t.table, entry);
  }
  return [...byTable].map(
    ([table, { pid, netns }]) =>
      `removed ${table} (table inet left by retrace pid ${pid}, which no longer runs) from ${netns.length} network namespace(s): ${netns.join(', ')}`,
  );
}

export function cleanup(): number {
  if (process.getuid?.() !== 0)
    throw new UsageError('retrace cleanup needs root: it lists and removes nftables tables in every network namespace');
  const removed = removeStaleNftTables();
  for (const line of removed) process.stdout.write(`${line}\n`);
  if (!removed.length) process.stdout.write('nothing to clean up: no nftrace table of a retrace that no longer runs\n');
  return 0;
}
