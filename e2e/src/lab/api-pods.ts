// Pods made the way a cluster makes them, for tests against the test API server (no kubelet
// runs there): created through the API bound to their node (which gives each its uid), then
// built on their lab node (a cgroup named by that uid, a network namespace), then given the
// status a kubelet reports (IP, container id).
import type { TestObjects } from '../k8s/test-objects.js';
import { clusterLab, type ClusterLab } from './cluster-lab.js';

/** `layout`: node name -> its pods as namespace/name (the namespaces exist); `labels`: each pod's labels. */
export async function clusterLabThroughApi(
  api: TestObjects,
  label: string,
  layout: Record<string, string[]>,
  labels: (namespace: string, name: string) => Record<string, string>,
): Promise<ClusterLab> {
  const uids: Record<string, string> = {};
  for (const [node, pods] of Object.entries(layout))
    for (const full of pods) {
      const [namespace = '', name = ''] = full.split('/');
      const made = await api.pod(namespace, name, node, labels(namespace, name));
      uids[full] = made.metadata.uid ?? '';
    }
  const lab = clusterLab(label, { nodes: layout, uids });
  try {
    for (const p of lab.pods)
      await api.podRunning(
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace } },
        { ip: p.ip, containerId: p.container },
      );
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}
