// The test API server itself (e2e/src/k8s/envtest.ts): who each kind of client is to it and what
// RBAC lets them do, what a test can make on it without a kubelet, that cleanup() leaves nothing,
// and that a server of a test's own starts and stops.
import { existsSync } from 'node:fs';
import { sharedApiServer, startApiServer, type TestApiServer } from '../src/k8s/envtest.js';
import { ApiError, RestClient, type KubeObject } from '../src/k8s/rest.js';
import { TestObjects, uniqueName } from '../src/k8s/test-objects.js';

let server: TestApiServer;
let objects: TestObjects;

beforeAll(async () => {
  server = await sharedApiServer();
  objects = new TestObjects(server.kubeConfig());
});

afterAll(async () => objects?.cleanup());

/** Who the server says the client is (SelfSubjectReview). */
async function whoami(rest: RestClient): Promise<{ username: string; groups: string[] }> {
  const r = await rest.request<{ status: { userInfo: { username: string; groups: string[] } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  );
  return r.status.userInfo;
}

const refusal = async (f: () => Promise<unknown>): Promise<string> => {
  try {
    await f();
    return 'allowed';
  } catch (e) {
    if (e instanceof ApiError) return `${e.code} ${e.reason}`;
    throw e;
  }
};

test('the admin is in system:masters; a certificate user gets its groups and what RBAC grants them', async () => {
  expect((await whoami(server.rest())).groups).toContain('system:masters');
  const ns = await objects.namespace('who');
  const user = uniqueName('alice');
  const alice = new RestClient(server.userConfig(user, ['retrace-testers']).kubeConfig());
  expect(await whoami(alice)).toMatchObject({ username: user, groups: ['retrace-testers', 'system:authenticated'] });
  expect(await refusal(() => alice.list('v1', 'Pod', ns))).toBe('403 Forbidden');
  // A Role of its own: the built-in view and edit ClusterRoles are aggregated by
  // kube-controller-manager, which does not run here, so they grant nothing.
  await objects.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'pod-reader', namespace: ns },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
  });
  await objects.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'testers-read-pods', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'retrace-testers' }],
  });
  let answer = '';
  for (let i = 0; i < 50 && answer !== 'allowed'; i++) {
    answer = await refusal(() => alice.list('v1', 'Pod', ns));
    await new Promise((r) => setTimeout(r, 20)); // the authorizer's cache follows the binding
  }
  expect(answer).toBe('allowed');
});

test("a ServiceAccount token is that account's, and its requests are in the audit log", async () => {
  const ns = await objects.namespace('sa');
  const sa = new RestClient((await server.serviceAccountConfig(ns, 'default')).kubeConfig());
  const username = `system:serviceaccount:${ns}:default`;
  expect((await whoami(sa)).username).toBe(username);
  expect(await refusal(() => sa.list('v1', 'Secret', ns))).toBe('403 Forbidden');
  let records: string[] = [];
  for (let i = 0; i < 100 && !records.includes('list secrets 403'); i++) {
    records = server
      .auditRecords()
      .filter((r) => r.user.username === username)
      .map((r) => `${r.verb} ${r.objectRef?.resource ?? ''} ${r.responseStatus?.code ?? ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(records).toContain('list secrets 403');
});

test('nodes and bound pods are made through the API, reported running; cleanup leaves nothing', async () => {
  const mine = new TestObjects(server.kubeConfig());
  const ns = await mine.namespace('pods');
  const node = uniqueName('node');
  await mine.node(node, { zone: 'z' }, '6.1.0-test');
  const made = await mine.pod(ns, 'p', node, { app: 'p' }, { ip: '10.9.0.2', containerId: 'abc' });
  expect(made).toMatchObject({
    spec: { nodeName: node, serviceAccountName: 'default' },
    status: { phase: 'Running', podIP: '10.9.0.2', containerStatuses: [{ containerID: 'containerd://abc' }] },
  });
  const trace: KubeObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: uniqueName('held'), finalizers: ['retrace.dev/test'] },
    rules: [],
  };
  await mine.create(trace);
  await mine.cleanup();
  const rest = server.rest();
  expect(await rest.get({ apiVersion: 'v1', kind: 'Node', metadata: { name: node } })).toBeUndefined();
  expect(await rest.get(trace)).toBeUndefined(); // its finalizer removed
  expect(await rest.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })).toBeUndefined();
  expect(
    (await rest.request<{ items: unknown[] }>('GET', `/api/v1/pods?fieldSelector=spec.nodeName=${node}`)).items,
  ).toEqual([]);
});

test('a server of its own starts apart from the shared one and stops', async () => {
  const own = await startApiServer();
  try {
    expect(own.url).not.toBe(server.url);
    expect(own.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await own.rest().request('GET', '/version')).toMatchObject({ gitVersion: expect.stringMatching(/^v1\./) });
  } finally {
    await own.stop();
  }
  expect(existsSync(own.dir)).toBe(false);
});
