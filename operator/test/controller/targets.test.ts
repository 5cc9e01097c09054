// Which nodes and pods a trace reaches: selectors on nodes, pods and namespaces.
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { matchesSelector } from '../../src/controller/kube-types.js';
import { resolveTargets } from '../../src/controller/targets.js';

const node = (name: string, labels: Record<string, string> = {}): V1Node => ({ metadata: { name, labels } });
const pod = (
  ns: string,
  name: string,
  nodeName: string,
  labels: Record<string, string> = {},
  extra: object = {},
): V1Pod =>
  // Only the fields the operator reads (a real Pod has containers, images, ...).
  ({
    metadata: { name, namespace: ns, labels, uid: `uid-${name}` },
    spec: { nodeName },
    status: {
      phase: 'Running',
      podIPs: [{ ip: `10.0.0.${name.length}` }],
      containerStatuses: [{ containerID: `containerd://c-${name}` }],
    },
    ...extra,
  }) as V1Pod;
const inventory = {
  nodes: [node('n1', { zone: 'a' }), node('n2', { zone: 'b' }), node('n3', { zone: 'a' })],
  pods: [
    pod('team', 'web', 'n1', { app: 'web' }),
    pod('team', 'db', 'n2', { app: 'db' }),
    pod('other', 'web2', 'n3', { app: 'web' }),
    pod('team', 'host', 'n3', { app: 'web' }, { spec: { nodeName: 'n3', hostNetwork: true } }),
    pod('team', 'done', 'n3', { app: 'web' }, { status: { phase: 'Succeeded' } }),
  ],
  namespaces: [
    { metadata: { name: 'team', labels: { tier: 'prod' } } },
    { metadata: { name: 'other' } },
  ] as V1Namespace[],
};

test('label selectors: matchLabels and every operator', () => {
  const l = { app: 'web', tier: 'x' };
  expect(matchesSelector(l, { matchLabels: { app: 'web' } })).toBe(true);
  expect(matchesSelector(l, { matchExpressions: [{ key: 'tier', operator: 'In', values: ['x', 'y'] }] })).toBe(true);
  expect(matchesSelector(l, { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] })).toBe(false);
  expect(matchesSelector(l, { matchExpressions: [{ key: 'zone', operator: 'Exists' }] })).toBe(false);
  expect(matchesSelector(l, { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] })).toBe(true);
  expect(matchesSelector(undefined, undefined)).toBe(true);
});

test("a namespaced Trace reaches only its namespace's pods, and only their nodes", () => {
  const t = resolveTargets(
    { metadata: { name: 't', namespace: 'team' }, spec: { podSelector: { matchLabels: { app: 'web' } } } },
    inventory,
  );
  expect(t.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['team/web']);
  expect(t.nodes).toEqual(['n1']);
  expect(t.pods[0]).toMatchObject({ ips: ['10.0.0.3'], containers: ['c-web'], node: 'n1', uid: 'uid-web' });
});

test('a ClusterTrace: whole nodes by node selector, or pods across selected namespaces', () => {
  // Node-wide: every node selected, even one without pods; the pods of those nodes (with a
  // network namespace of their own) come along so that agents can name them in events.
  const wide = resolveTargets({ metadata: { name: 'c' }, spec: { nodeSelector: { zone: 'a' } } }, inventory);
  expect(wide).toMatchObject({ nodes: ['n1', 'n3'], podScoped: false });
  expect(wide.pods.map((p) => `${p.namespace}/${p.name}@${p.node}`)).toEqual(['other/web2@n3', 'team/web@n1']);
  const empty = resolveTargets(
    { metadata: { name: 'c' }, spec: { nodeSelector: { zone: 'b' } } },
    {
      ...inventory,
      pods: [],
    },
  );
  expect(empty).toEqual({ nodes: ['n2'], pods: [], podScoped: false });
  const byNs = resolveTargets(
    {
      metadata: { name: 'c' },
      spec: { namespaceSelector: { matchLabels: { tier: 'prod' } }, podSelector: { matchLabels: { app: 'web' } } },
    },
    inventory,
  );
  expect(byNs.pods.map((p) => p.name)).toEqual(['web']);
  const all = resolveTargets(
    { metadata: { name: 'c' }, spec: { podSelector: { matchLabels: { app: 'web' } } } },
    inventory,
  );
  expect(all.pods.map((p) => p.name)).toEqual(['web2', 'web']);
  expect(all.nodes).toEqual(['n1', 'n3']);
});
