// The table retrace adds (with --allow-system-changes) so nftables traces packets: `meta
// nftrace set 1` first thing in prerouting and output. One per namespace and retrace process,
// named after its owner (pid namespace, pid and start time), so a table that a killed retrace
// left is provably stale (that process is gone, and no reused pid passes for it) and removed
// by the next collect or by `retrace cleanup`.
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

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

/** Who owns a table: the pid namespace (inode) the pid is in, the pid, its start time (clock ticks after boot). */
export interface TableOwner {
  pidns: number;
  pid: number;
  start: number;
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined when it does not exist. */
function startTime(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start === undefined ? undefined : Number(start);
  } catch {
    return undefined;
  }
}

function pidNamespace(): number {
  try {
    return Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

let self: TableOwner | undefined;
function thisProcess(): TableOwner {
  self ??= { pidns: pidNamespace(), pid: process.pid, start: startTime('self') ?? 0 };
  return self;
}

export function tableName(owner: TableOwner = thisProcess()): string {
  return `${NFTRACE_TABLE_PREFIX}${owner.pidns}_${owner.pid}_${owner.start}`;
}

/**
 * The owner a table name carries; undefined for a name that is not one of ours. Names of older
 * retrace versions carry the pid alone: start -1, pid namespace ours.
 */
export function tableOwner(name: string): TableOwner | undefined {
  const m = new RegExp(`^${NFTRACE_TABLE_PREFIX}(\\d+)_(\\d+)_(\\d+)$`).exec(name);
  if (m) return { pidns: Number(m[1]), pid: Number(m[2]), start: Number(m[3]) };
  const old = new RegExp(`^${NFTRACE_TABLE_PREFIX}(\\d+)$`).exec(name);
  return old ? { pidns: thisProcess().pidns, pid: Number(old[1]), start: -1 } : undefined;
}

/**
 * Whether the owner of a table is provably gone: in our pid namespace, no process has its pid
 * with its start time. An owner in another pid namespace cannot be checked, so is not stale.
 */
export function ownerGone(owner: TableOwner): boolean {
  if (owner.pidns !== thisProcess().pidns) return false;
  const now = startTime(owner.pid);
  return owner.start < 0 ? now === undefined : now !== owner.start;
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
export function removeNftraceTable(netnsPath: string, name = tableName()): boolean {
  return nft(netnsPath, ['delete', 'table', 'inet', name]).ok;
}

export interface StaleTable {
  table: string;
  owner: TableOwner;
}

/** Removes the tables of retrace processes that no longer run; returns what it removed. */
export function removeStaleTables(netnsPath: string): StaleTable[] {
  const r = nft(netnsPath, ['list', 'tables', 'inet']);
  if (!r.ok) return [];
  const removed: StaleTable[] = [];
  for (const m of r.out.matchAll(new RegExp(`table inet (${NFTRACE_TABLE_PREFIX}\\S+)`, 'g'))) {
    const table = m[1] ?? '';
    const owner = tableOwner(table);
    if (owner && ownerGone(owner) && removeNftraceTable(netnsPath, table)) removed.push({ table, owner });
  }
  return removed;
}

/** Whether some rule in the namespace already sets nftrace. */
export function hasNftraceRule(netnsPath: string): boolean {
  const r = nft(netnsPath, ['list', 'ruleset']);
  return r.ok && /nftrace set 1/.test(r.out);
}
