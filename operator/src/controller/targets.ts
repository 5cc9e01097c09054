// Which nodes and pods a trace targets, from the caches of Nodes, Pods and Namespaces: the node
// selector picks nodes; pods are matched by the pod selector (in the Trace's own namespace, or in
// the namespaces a ClusterTrace's namespace selector picks), and carry their IPs and container
// ids so agents can find their network namespaces (and name the pods events come from).
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { PodRef } from '@retrace/events';
import { isNamespaced, type TraceResource } from '@retrace/spec';
import { matchesSelector } from './kube-types.js';

export interface Targets {
  /** Nodes that run the trace, sorted. */
  nodes: string[];
  /** Pods the trace is scoped to; for a node-wide ClusterTrace, the pods of its nodes (to name them). */
  pods: PodRef[];
  /** Whether the trace is scoped to pods (then nodes without a matching pod run nothing). */
  podScoped: boolean;
}

export interface Inventory {
  nodes: Iterable<V1Node>;
  pods: Iterable<V1Pod>;
  namespaces: Iterable<V1Namespace>;
}

/** A container id without its runtime prefix (containerd://abc -> abc). */
const containerId = (id: string): string => id.replace(/^[a-z0-9-]+:\/\//, '');

export function resolveTargets(t: TraceResource, inv: Inventory): Targets {
  const s = t.spec ?? {};
  const nodes = new Set<string>();
  for (const n of inv.nodes)
    if (
      n.metadata?.name &&
      !n.metadata.deletionTimestamp &&
      matchesSelector(n.metadata.labels, { matchLabels: s.nodeSelector ?? {} })
    )
      nodes.add(n.metadata.name);
  const podScoped = isNamespaced(t) || s.podSelector !== undefined || s.namespaceSelector !== undefined;

  let namespaces: Set<string> | undefined; // undefined: every namespace
  if (isNamespaced(t)) namespaces = new Set([t.metadata.namespace as string]);
  else if (s.namespaceSelector) {
    namespaces = new Set();
    for (const ns of inv.namespaces)
      if (ns.metadata?.name && matchesSelector(ns.metadata.labels, s.namespaceSelector))
        namespaces.add(ns.metadata.name);
  }
  // A node-wide trace gets every pod of its nodes too: not to scope it (its spec is not
  // namespaced) but so that agents name the pods its events come from.
  const pods: PodRef[] = [];
  const podNodes = new Set<string>();
  for (const p of inv.pods) {
    const node = p.spec?.nodeName;
    // Pods not scheduled yet, finished, or on host networking have no network namespace of
    // their own to scope to.
    if (!node || !nodes.has(node) || p.spec?.hostNetwork) continue;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const meta = p.metadata ?? {};
    if (namespaces && !namespaces.has(meta.namespace ?? '')) continue;
    if (podScoped && !matchesSelector(meta.labels, s.podSelector)) continue;
    const ips = p.status?.podIPs?.map((x) => x.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
    pods.push({
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      ips,
      containers: (p.status?.containerStatuses ?? []).flatMap((c) =>
        c.containerID ? [containerId(c.containerID)] : [],
      ),
      node,
    });
    podNodes.add(node);
  }
  pods.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  // A pod-scoped trace runs only where its pods are; a node-wide one on every node selected.
  return { nodes: [...(podScoped ? podNodes : nodes)].sort(), pods, podScoped };
}
