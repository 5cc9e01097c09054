// Which Kubernetes pod a network namespace (and the host end of its veth) belongs to, found from
// /proc on the node: each process's network namespace and its cgroup (pod uid, container id);
// netns-owner.ts decides. See README.md next to this file.
import type { PodRef as ProtoPodRef } from '@retrace/events';
import { execFile } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ownersOf, PodNetnsConflictError, type NetnsConflict, type NsScan } from './netns-owner.js';
import { normalizeContainerId, normalizeIp, normalizeUid } from './pod-keys.js';
import { parseCgroup, parseFibTrieLocal, parseIfInet6, parseIpLinkPeers, type PeerLink } from './proc-text.js';

export { normalizeIp };
export { PodNetnsConflictError, type NetnsConflict };

const execFileAsync = promisify(execFile);

/**
 * A pod as the aggregator assigns it (proto PodRef): namespace, name, uid, ips, and container
 * ids (a `containerd://` style runtime prefix is stripped if present).
 */
export type PodRef = Pick<ProtoPodRef, 'namespace' | 'name' | 'uid' | 'ips' | 'containers'>;

/** A pod, and its container when the namespace tells it apart. */
export interface PodIdentity {
  namespace: string;
  pod: string;
  container?: string;
}

/** A network namespace mapped to a pod. */
export interface PodNetns extends PodIdentity {
  /** Inode number of the network namespace (what BPF reads as net->ns.inum). */
  inum: number;
  uid: string;
  /**
   * How the pod was found: its processes' cgroups (pod uid or container id), or an address of
   * a namespace where no process has a pod or container identity.
   */
  match: 'cgroup' | 'ip';
  /** Processes seen in the namespace at the last refresh. */
  pids: number[];
  /** The namespace's local addresses (IPv4 from fib_trie, IPv6 from if_inet6), loopback left out. */
  addresses: string[];
  /** Host-namespace interfaces that are the host end of a veth into this namespace. */
  hostIfindexes: number[];
}

/** Pods to select: by uid when one is given, else by namespace and name; or a predicate. */
export type PodFilter = readonly { namespace: string; name: string; uid?: string }[] | ((pod: PodRef) => boolean);

export interface PodMapperOptions {
  pods?: readonly PodRef[];
  /** Default `/proc` (the host's: the agent runs with hostPID). */
  procRoot?: string;
  /** Default `/sys`, whose class/net lists the host namespace's interfaces. */
  sysRoot?: string;
  /**
   * Namespaces never mapped to a pod (the node's own: hostNetwork pods share it). Default: the
   * namespaces of PID 1 and of this process.
   */
  hostNetns?: readonly number[];
  /** Map host veth ends to pods (runs `nsenter --net=... ip -j link show` per pod namespace). Default true. */
  hostInterfaces?: boolean;
  nsenter?: string;
  ip?: string;
  commandTimeoutMs?: number;
  /** Files read at once while scanning /proc. */
  concurrency?: number;
  /**
   * Problems other than processes ending mid-scan (e.g. nsenter missing), and namespaces refused
   * because processes of several pods are in them (PodNetnsConflictError, once per namespace);
   * the refresh goes on. Default: a line on stderr, the agent's log.
   */
  onError?: (err: Error) => void;
}

export interface RefreshStats {
  processes: number;
  namespaces: number;
  pods: number;
  ms: number;
}

/** Errors that mean the process ended while we looked (or never was ours to read). */
function gone(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM' || code === 'EINVAL';
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
}

async function inodeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
}

/** Runs fn over items, at most `limit` at once. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * Maps network namespaces to pods. refresh() rescans /proc (pods come and go); lookups answer
 * from the last complete scan.
 */
export class PodMapper {
  private pods: readonly PodRef[];
  private readonly proc: string;
  private readonly sys: string;
  private readonly opts: PodMapperOptions;
  private byInum = new Map<number, PodNetns>();
  private byHostIfindex = new Map<number, PodNetns>();
  private commandsMissing = false;
  /**
   * Peer links found per pod namespace (non-empty results only): a pod's veth is made once, so
   * nsenter runs once per namespace rather than on every refresh. Pruned to the namespaces seen.
   */
  private peerCache = new Map<number, PeerLink[]>();
  /** Namespaces refused at the last refresh (processes of several pods in them). */
  private conflicts: NetnsConflict[] = [];
  /** Conflicts already reported (inum and claims), so that each is said once while it lasts. */
  private reported = new Set<string>();

  constructor(opts: PodMapperOptions = {}) {
    this.opts = opts;
    this.pods = opts.pods ?? [];
    this.proc = opts.procRoot ?? '/proc';
    this.sys = opts.sysRoot ?? '/sys';
  }

  /** Replaces the pods to look for (takes effect at the next refresh()). */
  setPods(pods: readonly PodRef[]): void {
    this.pods = pods;
  }

  /** Forgets the pods and everything mapped (nothing traced needs them); refresh() maps again. */
  clear(): void {
    this.pods = [];
    this.byInum = new Map();
    this.byHostIfindex = new Map();
    this.peerCache = new Map();
    this.conflicts = [];
    this.reported = new Set();
  }

  /** Namespaces left unmapped at the last refresh because processes of several pods are in them. */
  refused(): NetnsConflict[] {
    return this.conflicts.map((c) => ({ ...c, pids: [...c.pids], claims: [...c.claims] }));
  }

  /** The pod of a network namespace (by inode number). */
  lookup(netnsInum: number): PodIdentity | undefined {
    const e = this.byInum.get(netnsInum);
    return e && identity(e);
  }

  /** The pod whose veth has this host-namespace interface as its other end. */
  lookupHostIfindex(ifindex: number): PodIdentity | undefined {
    const e = this.byHostIfindex.get(ifindex);
    return e && identity(e);
  }

  /** Inode numbers of the namespaces of the selected pods (all mapped pods without a filter), sorted. */
  netnsOf(pods?: PodFilter): number[] {
    const selected = pods === undefined ? undefined : this.pods.filter((p) => selects(pods, p));
    const uids = selected && new Set(selected.map((p) => p.uid));
    const out = new Set<number>();
    for (const e of this.byInum.values()) if (!uids || uids.has(e.uid)) out.add(e.inum);
    return [...out].sort((a, b) => a - b);
  }

  /** Every mapped namespace, by inode number. */
  entries(): PodNetns[] {
    return [...this.byInum.values()]
      .sort((a, b) => a.inum - b.inum)
      .map((e) => ({ ...e, pids: [...e.pids], addresses: [...e.addresses], hostIfindexes: [...e.hostIfindexes] }));
  }

  /** Scans /proc and maps every namespace again. */
  async refresh(): Promise<RefreshStats> {
    const started = performance.now();
    const limit = this.opts.concurrency ?? 32;
    const host = new Set(this.opts.hostNetns ?? (await this.defaultHostNetns()));
    // The agent's own helpers (nsenter ... ip) sit in its cgroup, in a pod's namespace for a
    // moment: they are not that namespace's processes. Undefined when ours names no pod.
    const ownCgroup = await readText(join(this.proc, 'self', 'cgroup')).catch(() => undefined);
    const own = ownCgroup !== undefined && Object.keys(parseCgroup(ownCgroup)).length ? ownCgroup : undefined;
    let names: string[];
    try {
      names = await readdir(this.proc);
    } catch (e) {
      this.report(e);
      names = [];
    }
    const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
    const scans = new Map<number, NsScan>();
    const hostPids = new Map<number, number[]>();
    await eachLimit(pids, limit, async (pid) => {
      try {
        const inum = await inodeOf(join(this.proc, String(pid), 'ns', 'net'));
        if (inum === undefined) return;
        if (host.has(inum)) {
          const list = hostPids.get(inum);
          if (list) list.push(pid);
          else hostPids.set(inum, [pid]);
          return;
        }
        const cgroup = await readText(join(this.proc, String(pid), 'cgroup'));
        if (cgroup === undefined) return;
        let s = scans.get(inum);
        if (!s) scans.set(inum, (s = { pids: [], uids: new Map(), containers: new Map(), addresses: [] }));
        s.pids.push(pid);
        if (cgroup === own) return;
        const { podUid, containerId } = parseCgroup(cgroup);
        if (podUid) s.uids.set(podUid, (s.uids.get(podUid) ?? 0) + 1);
        if (containerId) s.containers.set(containerId, podUid ?? '');
      } catch (e) {
        this.report(e);
      }
    });

    await eachLimit([...scans.values()], limit, async (s) => {
      s.pids.sort((a, b) => a - b);
      s.addresses = await this.addressesOf(s.pids);
    });
    // The node's own addresses are hostNetwork pods' too: never a reason to map a namespace.
    const hostAddresses = new Set<string>();
    for (const inPids of hostPids.values())
      for (const a of await this.addressesOf(inPids.sort((a, b) => a - b))) hostAddresses.add(a);
    const { owners, conflicts } = ownersOf(scans, this.pods, hostAddresses);

    const byInum = new Map<number, PodNetns>();
    for (const [inum, { pod, match }] of owners) {
      const s = scans.get(inum);
      if (!s) continue;
      const container = match === 'cgroup' ? containerOf(s, pod) : undefined;
      byInum.set(inum, {
        namespace: pod.namespace,
        pod: pod.name,
        ...(container ? { container } : {}),
        inum,
        uid: pod.uid,
        match,
        pids: s.pids,
        addresses: s.addresses,
        hostIfindexes: [],
      });
    }
    this.reportConflicts(conflicts);

    const byHostIfindex = new Map<number, PodNetns>();
    const peers = new Map<number, PeerLink[]>();
    if ((this.opts.hostInterfaces ?? true) && byInum.size) {
      const hostIflink = await this.hostIflinks();
      await eachLimit([...byInum.values()], Math.min(limit, 8), async (e) => {
        let links = this.peerCache.get(e.inum);
        if (!links) links = await this.peerLinks(e.pids);
        if (links.length) peers.set(e.inum, links);
        for (const peer of links)
          if (hostIflink.get(peer.linkIndex) === peer.ifindex) {
            e.hostIfindexes.push(peer.linkIndex);
            byHostIfindex.set(peer.linkIndex, e);
          }
        e.hostIfindexes.sort((a, b) => a - b);
      });
    }
    this.byInum = byInum;
    this.byHostIfindex = byHostIfindex;
    this.peerCache = peers;
    return {
      processes: pids.length,
      namespaces: scans.size,
      pods: new Set([...byInum.values()].map((e) => e.uid)).size,
      ms: performance.now() - started,
    };
  }

  private async defaultHostNetns(): Promise<number[]> {
    const out: number[] = [];
    for (const who of ['1', 'self']) {
      const inum = await inodeOf(join(this.proc, who, 'ns', 'net')).catch(() => undefined);
      if (inum !== undefined) out.push(inum);
    }
    return out;
  }

  /** The namespace's addresses, read through the first of its processes still there. */
  private async addressesOf(pids: readonly number[]): Promise<string[]> {
    for (const pid of pids) {
      try {
        const v4 = await readText(join(this.proc, String(pid), 'net', 'fib_trie'));
        const v6 = await readText(join(this.proc, String(pid), 'net', 'if_inet6'));
        if (v4 === undefined && v6 === undefined) continue;
        return [...parseFibTrieLocal(v4 ?? ''), ...parseIfInet6(v6 ?? '')];
      } catch (e) {
        this.report(e);
        return [];
      }
    }
    return [];
  }

  /** ifindex -> iflink of the host namespace's interfaces (sysfs). */
  private async hostIflinks(): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const dir = join(this.sys, 'class', 'net');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      this.report(e);
      return out;
    }
    for (const n of names) {
      const ifindex = await readText(join(dir, n, 'ifindex')).catch(() => undefined);
      const iflink = await readText(join(dir, n, 'iflink')).catch(() => undefined);
      if (ifindex !== undefined && iflink !== undefined) out.set(Number(ifindex), Number(iflink));
    }
    return out;
  }

  /** The namespace's interfaces with a peer elsewhere, through the first of its processes still there. */
  private async peerLinks(pids: readonly number[]): Promise<PeerLink[]> {
    if (this.commandsMissing) return [];
    for (const pid of pids) {
      const ns = join(this.proc, String(pid), 'ns', 'net');
      try {
        const { stdout } = await execFileAsync(
          this.opts.nsenter ?? 'nsenter',
          [`--net=${ns}`, this.opts.ip ?? 'ip', '-j', 'link', 'show'],
          { timeout: this.opts.commandTimeoutMs ?? 5000, maxBuffer: 16 << 20 },
        );
        return parseIpLinkPeers(stdout);
      } catch (e) {
        if ((e as { code?: unknown }).code === 'ENOENT') {
          // nsenter itself is missing: no host interfaces this time, said once.
          this.commandsMissing = true;
          this.report(new Error(`pod mapper: cannot run ${this.opts.nsenter ?? 'nsenter'}: ${(e as Error).message}`));
          return [];
        }
        // The process ended (nsenter cannot open its namespace): try the next one.
        if ((await inodeOf(ns)) === undefined) continue;
        this.report(e);
        return [];
      }
    }
    return [];
  }

  /** Each refused namespace is reported once while its conflict lasts. */
  private reportConflicts(conflicts: NetnsConflict[]): void {
    const now = new Set<string>();
    for (const c of conflicts) {
      const key = `${c.inum} ${c.claims.join(' ')}`;
      now.add(key);
      if (!this.reported.has(key)) this.report(new PodNetnsConflictError(c.inum, c.pids, c.claims));
    }
    this.reported = now;
    this.conflicts = conflicts.sort((a, b) => a.inum - b.inum);
  }

  private report(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (this.opts.onError) this.opts.onError(err);
    else process.stderr.write(`${err.message}\n`);
  }
}

function identity(e: PodNetns): PodIdentity {
  return { namespace: e.namespace, pod: e.pod, ...(e.container ? { container: e.container } : {}) };
}

function selects(filter: PodFilter, p: PodRef): boolean {
  if (typeof filter === 'function') return filter(p);
  return filter.some((f) =>
    f.uid ? normalizeUid(f.uid) === normalizeUid(p.uid) : f.namespace === p.namespace && f.name === p.name,
  );
}

/**
 * The container, when one tells the namespace apart: the only one of the pod's listed containers
 * with processes here (the sandbox's pause container is not listed), or, when the pod lists none,
 * the only container of the pod found here.
 */
function containerOf(s: NsScan, pod: PodRef): string | undefined {
  const uid = normalizeUid(pod.uid);
  const listed = new Set((pod.containers ?? []).map(normalizeContainerId));
  const here = [...s.containers]
    .filter(([id, podUid]) => (listed.size ? listed.has(id) : podUid === uid))
    .map(([id]) => id);
  return here.length === 1 ? here[0] : undefined;
}
