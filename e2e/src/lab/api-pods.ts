// Pods made the way a cluster makes them, for tests against the in-process API server: created
// through the API (which gives each its uid), then built on their lab node (a cgroup named by
// that uid, a network namespace), then given the status a kubelet reports (IP, container id).
import type { FakeApiServer } from '@retrace/kube-fake';
import { clusterLab, type ClusterLab } from './cluster-lab.js';

/** `layout`: node name -> its pods as namespace/name; `labels`: each pod's labels. */
export function clusterLabThroughApi(
  api: FakeApiServer,
  label: string,
  layout: Record<string, string[]>,
  labels: (namespace: string, name: string) => Record<string, string>,
): ClusterLab {
  const uids: Record<string, string> = {};
  for (const [node, pods] of Object.entries(layout))
    for (const full of pods) {
      const [namespace = '', name = ''] = full.split('/');
      const made = api.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, labels: labels(namespace, name) },
        spec: { nodeName: node, containers: [{ name: 'main', image: 'busybox' }] },
      });
      uids[full] = made.metadata.uid ?? '';
    }
  const lab = clusterLab(label, { nodes: layout, uids });
  try {
    for (const p of lab.pods) {
      const obj = api.get('v1', 'Pod', p.namespace, p.name);
      if (!obj) throw new Error(`pod ${p.namespace}/${p.name} vanished`);
      api.apply({
        ...obj,
        apiVersion: 'v1',
        kind: 'Pod',
        status: {
          phase: 'Running',
          podIP: p.ip,
          podIPs: [{ ip: p.ip }],
          containerStatuses: [{ name: 'main', ready: true, containerID: `containerd://${p.container}` }],
        },
      });
    }
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}
