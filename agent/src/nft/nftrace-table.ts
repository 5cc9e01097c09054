// The table retrace adds (with --allow-system-changes) so nftables traces packets: `meta
// nftrace set 1` first thing in prerouting and output. One per namespace and retrace process,
// named after the pid, so a table a crashed retrace left is recognised and removed next time.
import { spawnSync } from 'node:child_process';

export const NFTRACE_TABLE_PREFIX = 'retrace_nftrace_';

export class NftraceTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NftraceTableError';
  }
}

function nft(netnsPath: string, args: string[], input?: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync('nsenter', [`--net=${netnsPath}`, 'nft', ...args], {
    input,
    encoding: 'utf8',
  });
  if (r.error) throw new NftraceTableError(`cannot run nft (${r.error.message}): install the nftables package`);
  return { ok: r.status === 0, out: r.stdout, err: r.stderr.trim() };
}

export function tableName(pid = process.pid): string {
  return `${NFTRACE_TABLE_PREFIX}${pid}`;
}

/** What a user must add to trace without --allow-system-changes. */
export const NFTRACE_HINT =
  'nft tracing needs a rule that sets `meta nftrace set 1` in each network namespace to trace, e.g.\n' +
  '  nft add table inet trace\n' +
  "  nft add chain inet trace pre '{ type filter hook prerouting priority -350; }'\n" +
  "  nft add chain inet trace out '{ type filter hook output priority -350; }'\n" +
  '  nft add rule inet trace pre meta nftrace set 1\n' +
  '  nft add rule inet trace out meta nftrace set 1\n' +
  'or let retrace add (and remove) such a table itself with --allow-system-changes';

/** Adds this process's nftrace table in a namespace. */
export function addNftraceTable(netnsPath: string): void {
  const t = tableName();
  const r = nft(
    netnsPath,
    ['-f', '-'],
    `table inet ${t} {\n` +
      `  chain prerouting { type filter hook prerouting priority -350; policy accept; meta nftrace set 1; }\n` +
      `  chain output { type filter hook output priority -350; policy accept; meta nftrace set 1; }\n` +
      `}\n`,
  );
  if (!r.ok) throw new NftraceTableError(`adding table inet ${t} in ${netnsPath}: ${r.err}`);
}

/** Removes this process's table; false when it was not there (or the namespace is gone). */
export function removeNftraceTable(netnsPath: string, pid = process.pid): boolean {
  return nft(netnsPath, ['delete', 'table', 'inet', tableName(pid)]).ok;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes tables of retrace processes that no longer run; returns their names. */
export function removeStaleTables(netnsPath: string): string[] {
  const r = nft(netnsPath, ['list', 'tables', 'inet']);
  if (!r.ok) return [];
  const removed: string[] = [];
  for (const m of r.out.matchAll(new RegExp(`table inet ${NFTRACE_TABLE_PREFIX}(\\d+)`, 'g'))) {
    const pid = Number(m[1]);
    if (pid !== process.pid && !alive(pid) && removeNftraceTable(netnsPath, pid))
      removed.push(`${NFTRACE_TABLE_PREFIX}${pid}`);
  }
  return removed;
}

/** Whether some rule in the namespace already sets nftrace. */
export function hasNftraceRule(netnsPath: string): boolean {
  const r = nft(netnsPath, ['list', 'ruleset']);
  return r.ok && /nftrace set 1/.test(r.out);
}
