// Which pod owns a network namespace, decided by the identity of the processes in it (pod uid
// from their cgroups, or a container id the runtime reported), never by an address when they
// have one: pod addresses overlap (reused after a pod is replaced, the same range on another
// network, a tester's own namespace) while a process's cgroup does not lie about its pod.
import type { PodRef } from './pod-mapper.js';
import { displayUid, normalizeContainerId, normalizeIp, normalizeUid } from './pod-keys.js';

/** What the /proc scan found in one network namespace. */
export interface NsScan {
  /** Processes in it, sorted. */
  pids: number[];
  /** Pod uid (normalized) -> processes whose cgroup path names that pod. */
  uids: Map<string, number>;
  /** Container id -> normalized pod uid of its cgroup path ('' when the path names no pod). */
  containers: Map<string, string>;
  /** Its local addresses, loopback left out. */
  addresses: string[];
}

export interface NetnsOwner {
  pod: PodRef;
  /** By the processes' identity (pod uid or container id), or by an address when they have none. */
  match: 'cgroup' | 'ip';
}

/** A namespace holding processes of more than one pod: it is nobody's. */
export interface NetnsConflict {
  inum: number;
  pids: number[];
  /** The pods (or unknown pods and containers) found there, described for a person. */
  claims: string[];
}

/**
 * A network namespace whose processes belong to different pods (or containers): left out of
 * every trace's scope, and its events name no pod.
 */
export class PodNetnsConflictError extends Error {
  constructor(
    readonly inum: number,
    readonly pids: readonly number[],
    readonly claims: readonly string[],
  ) {
    const shown = pids.slice(0, 8).join(', ') + (pids.length > 8 ? `, ... (${pids.length} in all)` : '');
    super(
      `pod mapper: network namespace ${inum} (pids ${shown}) holds processes of ${claims.join(' and ')}; ` +
        'a pod network namespace belongs to one pod, so it is in no trace scope and its events name no pod. ' +
        'Find the process that joined it from outside its pod (nsenter, a hostPID debug pod, a runtime ' +
        'sharing one namespace between pods) and stop it, or run it inside that pod',
    );
    this.name = 'PodNetnsConflictError';
  }
}

/** A process's pod: the pod itself when it is one of ours, else a description of what it is. */
type Claim = PodRef | string;

function describe(c: Claim): string {
  if (typeof c === 'string') return c;
  return `pod ${c.namespace}/${c.name} (uid ${displayUid(c.uid)})`;
}

/**
 * The owner of each namespace, and the namespaces refused because processes of several pods are
 * in them.
 *
 * 1. Identity: every process whose cgroup names a pod claims the namespace for that pod; one
 *    whose cgroup names only a container claims it for the pod listing that container. One
 *    claim: that pod owns it (no owner when the pod is not one of `pods`: another namespace's,
 *    or one no trace here selects). Several: a conflict. Processes with no identity (a node
 *    shell's `ip netns exec`, the agent's own nsenter) claim nothing.
 * 2. Addresses, only for namespaces where no process has any identity: the kubelet always puts
 *    a pod's sandbox and containers in the pod's cgroup, so this serves runtimes that do not
 *    (and bare namespaces made to stand for pods). It is kept narrow so that an overlapping
 *    address cannot pull in a namespace that is not the pod's: the address must be one pod's
 *    only, not the node's own (hostNetwork pods have the node's addresses), the pod must not own
 *    a namespace by identity, and only one namespace may hold it.
 */
export function ownersOf(
  scans: ReadonlyMap<number, NsScan>,
  pods: readonly PodRef[],
  hostAddresses: ReadonlySet<string>,
): { owners: Map<number, NetnsOwner>; conflicts: NetnsConflict[] } {
  const byUid = new Map<string, PodRef>();
  const byContainer = new Map<string, PodRef>();
  for (const p of pods) {
    if (p.uid) byUid.set(normalizeUid(p.uid), p);
    for (const c of p.containers ?? []) byContainer.set(normalizeContainerId(c), p);
  }

  const owners = new Map<number, NetnsOwner>();
  const conflicts: NetnsConflict[] = [];
  const ownedByIdentity = new Set<PodRef>();
  const anonymous: [number, NsScan][] = [];
  for (const [inum, s] of scans) {
    const claims = new Set<Claim>();
    for (const uid of s.uids.keys()) {
      // A pod given without its uid is still known by the containers it lists.
      const listed = [...s.containers].find(([id, podUid]) => podUid === uid && byContainer.get(id)?.uid === '');
      const known = byUid.get(uid) ?? (listed && byContainer.get(listed[0]));
      claims.add(known ?? `a pod not traced here (uid ${displayUid(uid)})`);
    }
    for (const [id, podUid] of s.containers)
      if (!podUid) claims.add(byContainer.get(id) ?? `container ${id.slice(0, 12)} (no pod lists it)`);
    if (claims.size > 1) {
      conflicts.push({ inum, pids: s.pids, claims: [...claims].map(describe).sort() });
      continue;
    }
    const [claim] = claims;
    if (claim === undefined) anonymous.push([inum, s]);
    else if (typeof claim !== 'string') {
      owners.set(inum, { pod: claim, match: 'cgroup' });
      ownedByIdentity.add(claim);
    }
  }

  // null: an address several pods list (one reused while the old pod is still known).
  const byIp = new Map<string, PodRef | null>();
  for (const p of pods)
    for (const ip of p.ips ?? []) {
      const n = normalizeIp(ip);
      if (n && !hostAddresses.has(n)) byIp.set(n, byIp.has(n) && byIp.get(n) !== p ? null : p);
    }
  const candidates = new Map<PodRef, number[]>();
  for (const [inum, s] of anonymous) {
    const found = new Set<PodRef>();
    for (const a of s.addresses) {
      const p = byIp.get(a);
      if (p) found.add(p);
    }
    const [p] = found;
    if (found.size !== 1 || !p || ownedByIdentity.has(p)) continue;
    candidates.set(p, [...(candidates.get(p) ?? []), inum]);
  }
  for (const [pod, inums] of candidates) {
    const [inum] = inums;
    if (inums.length === 1 && inum !== undefined) owners.set(inum, { pod, match: 'ip' });
  }
  return { owners, conflicts };
}
