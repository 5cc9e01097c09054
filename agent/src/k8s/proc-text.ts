// What the pod mapper reads from a node, parsed: a process's cgroup (its pod and container), a
// namespace's addresses (/proc/PID/net) and its interfaces with a peer elsewhere (`ip -j link`).
import { normalizeContainerId, normalizeIp, normalizeUid } from './pod-keys.js';

/** What one cgroup path tells about a process: its pod's uid and its container id, when in a pod. */
export interface CgroupPod {
  /** Lower case, with dashes (a systemd slice's underscores turned back). */
  podUid?: string;
  containerId?: string;
}

const UUID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
/** `pod<uid>` in a path element: cgroupfs (`pod1234-...`), systemd (`kubepods-besteffort-pod1234_....slice`). */
const POD_ELEMENT = new RegExp(`(?:^|[-_.])pod(${UUID}|[0-9a-f]{32})(?:\\.slice)?$`, 'i');
const CONTAINER_PREFIXES = ['cri-containerd-', 'crio-', 'docker-', 'containerd-', 'cri-o-', 'libpod-'];

/** A container's cgroup outside any pod element: a runtime's scope, or a bare 64-digit id. */
const CONTAINER_ELEMENT = /^(?:(?:cri-containerd|crio|docker|containerd|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/i;

/**
 * Pod uid and container id from /proc/PID/cgroup: the first line whose path has a pod element
 * (the container is the element after it); failing that, a container id alone (a path ending in a
 * runtime's scope or a bare 64-digit id).
 */
export function parseCgroup(text: string): CgroupPod {
  // hierarchy-ID:controllers:path (the path may itself contain ':')
  const paths = text
    .split('\n')
    .map((line) => line.split(':').slice(2).join(':'))
    .filter(Boolean)
    .map((path) => path.split('/').filter(Boolean));
  for (const elements of paths) {
    const at = elements.findIndex((e) => POD_ELEMENT.test(e));
    if (at < 0) continue;
    const podUid = normalizeUid(POD_ELEMENT.exec(elements[at] ?? '')?.[1] ?? '');
    const next = elements[at + 1];
    const containerId = next === undefined ? undefined : containerIdOf(next);
    return containerId ? { podUid, containerId } : { podUid };
  }
  for (const elements of paths) {
    const id = CONTAINER_ELEMENT.exec(elements[elements.length - 1] ?? '')?.[1];
    if (id) return { containerId: id.toLowerCase() };
  }
  return {};
}

/** A container's id from its cgroup element (`cri-containerd-<id>.scope`, `<id>`...); undefined for conmon. */
function containerIdOf(element: string): string | undefined {
  let id = element.replace(/\.scope$/, '');
  if (id.startsWith('crio-conmon-')) return undefined;
  for (const p of CONTAINER_PREFIXES)
    if (id.startsWith(p)) {
      id = id.slice(p.length);
      break;
    }
  return id ? normalizeContainerId(id) : undefined;
}

/** The local IPv4 addresses of a namespace (`/32 host LOCAL` entries of /proc/PID/net/fib_trie), 127/8 left out. */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    const leaf = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last && /^\s*\/32 host LOCAL\s*$/.test(line) && !last.startsWith('127.')) out.add(last);
  }
  return [...out];
}

/** The IPv6 addresses of a namespace (/proc/PID/net/if_inet6), ::1 left out. */
export function parseIfInet6(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const hex = line.trim().split(/\s+/)[0] ?? '';
    if (!/^[0-9a-f]{32}$/i.test(hex)) continue;
    const ip = normalizeIp(hex.match(/.{4}/g)?.join(':') ?? '');
    if (ip && ip !== '::1') out.add(ip);
  }
  return [...out];
}

/** An interface of a pod namespace whose peer is in another namespace (iproute2 JSON). */
export interface PeerLink {
  ifindex: number;
  /** The peer's ifindex, in its own namespace. */
  linkIndex: number;
}

/** Interfaces with a peer in another namespace, from `ip -j link show`. */
export function parseIpLinkPeers(json: string): PeerLink[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  const out: PeerLink[] = [];
  for (const l of parsed as unknown[]) {
    if (typeof l !== 'object' || l === null) continue;
    const { ifindex, link_index: linkIndex, link_netnsid: netnsid } = l as Record<string, unknown>;
    if (typeof ifindex === 'number' && typeof linkIndex === 'number' && netnsid !== undefined)
      out.push({ ifindex, linkIndex });
  }
  return out;
}
