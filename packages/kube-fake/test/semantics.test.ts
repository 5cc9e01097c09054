import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { k8s, kubeConfig, refusal, widget, widgetCrdModel, WIDGETS } from './helpers.js';

interface Widget {
  metadata: {
    name: string;
    generation: number;
    resourceVersion: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

describe('object semantics', () => {
  let server: FakeApiServer;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let coordination: CoordinationV1Api;
  const ns = { ...WIDGETS, namespace: 'default' };

  beforeAll(async () => {
    server = await FakeApiServer.start();
    const kc = kubeConfig(server);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    core = kc.makeApiClient(k8s.CoreV1Api);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({ body: widgetCrdModel() });
  });
  afterAll(() => server.stop());

  test('status subresource: each endpoint changes only its part; generation follows spec', async () => {
    const made = (await custom.createNamespacedCustomObject({
      ...ns,
      body: { ...widget('s', { mode: 'fast' }), status: { phase: 'ignored on create' } },
    })) as Widget;
    expect(made.status).toBeUndefined();
    const statusWrite = (await custom.replaceNamespacedCustomObjectStatus({
      ...ns,
      name: 's',
      body: { ...made, spec: { mode: 'slow' }, status: { phase: 'Running' } },
    })) as Widget;
    expect(statusWrite.spec.mode).toBe('fast');
    expect(statusWrite.status).toEqual({ phase: 'Running' });
    expect(statusWrite.metadata.generation).toBe(1);
    const specWrite = (await custom.replaceNamespacedCustomObject({
      ...ns,
      name: 's',
      body: { ...statusWrite, spec: { ...statusWrite.spec, maxEvents: 7 }, status: { phase: 'Hacked' } },
    })) as Widget;
    expect(specWrite.status).toEqual({ phase: 'Running' });
    expect(specWrite.metadata.generation).toBe(2);
    const labelled = (await custom.patchNamespacedCustomObject(
      { ...ns, name: 's', body: { metadata: { labels: { a: 'b' } } } },
      mergePatch,
    )) as Widget;
    expect(labelled.metadata.generation).toBe(2);
    const patchedStatus = (await custom.patchNamespacedCustomObjectStatus(
      { ...ns, name: 's', body: { status: { observedGeneration: 2 } } },
      mergePatch,
    )) as Widget;
    expect(patchedStatus.status).toEqual({ phase: 'Running', observedGeneration: 2 });
  });

  test('a stale resourceVersion is a 409 Conflict; a missing one is refused for custom resources', async () => {
    const made = (await custom.createNamespacedCustomObject({ ...ns, body: widget('c', { mode: 'fast' }) })) as Widget;
    await custom.replaceNamespacedCustomObject({
      ...ns,
      name: 'c',
      body: { ...made, spec: { mode: 'fast', maxEvents: 1 } },
    });
    const stale = await refusal(
      custom.replaceNamespacedCustomObject({
        ...ns,
        name: 'c',
        body: { ...made, spec: { mode: 'fast', maxEvents: 2 } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on widgets.${WIDGETS.group} "c": the object has been modified; please apply your changes to the latest version and try again`,
    });
    const unconditional = { ...made, metadata: { ...made.metadata, resourceVersion: undefined } };
    const missing = await refusal(custom.replaceNamespacedCustomObject({ ...ns, name: 'c', body: unconditional }));
    expect(missing.code).toBe(422);
    expect(missing.status.message).toContain(
      'metadata.resourceVersion: Invalid value: "0x0": must be specified for an update',
    );
  });

  test('finalizers keep a deleted object until they are removed; no new ones once deleting', async () => {
    const body = widget('f', { mode: 'fast' }) as { metadata: Record<string, unknown> };
    body.metadata.finalizers = ['test.kube-fake.dev/cleanup'];
    await custom.createNamespacedCustomObject({ ...ns, body });
    await custom.deleteNamespacedCustomObject({ ...ns, name: 'f' });
    const deleting = (await custom.getNamespacedCustomObject({ ...ns, name: 'f' })) as Widget;
    expect(deleting.metadata.deletionTimestamp).toEqual(expect.any(String));
    const more = await refusal(
      custom.patchNamespacedCustomObject(
        { ...ns, name: 'f', body: { metadata: { finalizers: ['test.kube-fake.dev/cleanup', 'x.dev/more'] } } },
        mergePatch,
      ),
    );
    expect(more.code).toBe(422);
    expect(more.status.message).toContain(
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
    );
    await custom.patchNamespacedCustomObject(
      { ...ns, name: 'f', body: [{ op: 'remove', path: '/metadata/finalizers' }] },
      jsonPatch,
    );
    expect((await refusal(custom.getNamespacedCustomObject({ ...ns, name: 'f' }))).code).toBe(404);
  });

  test('merge and JSON patch; strategic merge patch is refused for custom resources', async () => {
    await custom.createNamespacedCustomObject({
      ...ns,
      body: widget('p', { mode: 'fast', labels: { a: '1', b: '2' } }),
    });
    const merged = (await custom.patchNamespacedCustomObject(
      { ...ns, name: 'p', body: { spec: { labels: { a: null, c: '3' } } } },
      mergePatch,
    )) as Widget;
    expect(merged.spec.labels).toEqual({ b: '2', c: '3' });
    const patched = (await custom.patchNamespacedCustomObject(
      {
        ...ns,
        name: 'p',
        body: [
          { op: 'test', path: '/spec/mode', value: 'fast' },
          { op: 'replace', path: '/spec/maxEvents', value: 9 },
          { op: 'add', path: '/spec/ports', value: [80] },
          { op: 'add', path: '/spec/ports/-', value: 443 },
        ],
      },
      jsonPatch,
    )) as Widget;
    expect(patched.spec).toMatchObject({ maxEvents: 9, ports: [80, 443] });
    const failedTest = await refusal(
      custom.patchNamespacedCustomObject(
        { ...ns, name: 'p', body: [{ op: 'test', path: '/spec/mode', value: 'slow' }] },
        jsonPatch,
      ),
    );
    expect(failedTest.code).toBe(422);
    const smp = await refusal(custom.patchNamespacedCustomObject({ ...ns, name: 'p', body: { spec: {} } }, strategic));
    expect(smp.code).toBe(415);
    expect(smp.status.reason).toBe('UnsupportedMediaType');
  });

  test('pods: strategic merge patch works like merge; status only through /status; spec is immutable', async () => {
    const pod = await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'nginx' }] },
      },
    });
    expect(pod.status?.phase).toBe('Pending');
    const labelled = await core.patchNamespacedPod(
      { name: 'web', namespace: 'default', body: { metadata: { labels: { tier: 'front' } } } },
      strategic,
    );
    expect(labelled.metadata?.labels).toEqual({ app: 'web', tier: 'front' });
    const running = await core.patchNamespacedPodStatus(
      { name: 'web', namespace: 'default', body: { status: { phase: 'Running', podIP: '10.0.0.5' } } },
      mergePatch,
    );
    expect(running.status).toMatchObject({ phase: 'Running', podIP: '10.0.0.5' });
    const immutable = await refusal(
      core.patchNamespacedPod({ name: 'web', namespace: 'default', body: { spec: { nodeName: 'n2' } } }, mergePatch),
    );
    expect(immutable.code).toBe(422);
    expect(immutable.status.message).toContain('spec: Forbidden: pod updates may not change fields other than');
    const invalid = await refusal(
      core.createNamespacedPod({
        namespace: 'default',
        body: { metadata: { name: 'empty' }, spec: { containers: [] } },
      }),
    );
    expect(invalid.status.message).toBe('Pod "empty" is invalid: spec.containers: Required value');
  });

  test('leases: the loser of a concurrent update gets a 409', async () => {
    const lease = await coordination.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const [first, second] = await Promise.allSettled(
      ['b', 'c'].map((holder) =>
        coordination.replaceNamespacedLease({
          name: 'leader',
          namespace: 'default',
          body: { ...lease, spec: { ...lease.spec, holderIdentity: holder } },
        }),
      ),
    );
    expect(first?.status).toBe('fulfilled');
    expect(second?.status).toBe('rejected');
    expect(second?.status === 'rejected' && (second.reason as { code: number }).code).toBe(409);
    const now = await coordination.readNamespacedLease({ name: 'leader', namespace: 'default' });
    expect(now.spec?.holderIdentity).toBe('b');
  });

  test('deleting a namespace deletes what it holds; the requests log records each call', async () => {
    await core.createNamespace({ body: { metadata: { name: 'team' } } });
    await core.createNamespacedPod({
      namespace: 'team',
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    await core.deleteNamespace({ name: 'team' });
    expect(server.get('v1', 'Pod', 'team', 'p')).toBeUndefined();
    expect(server.get('v1', 'Namespace', undefined, 'team')).toBeUndefined();
    expect(server.requests.slice(-3)).toEqual([
      { method: 'POST', path: '/api/v1/namespaces', verb: 'create', status: 201 },
      { method: 'POST', path: '/api/v1/namespaces/team/pods', verb: 'create', status: 201 },
      { method: 'DELETE', path: '/api/v1/namespaces/team', verb: 'delete', status: 200 },
    ]);
  });
});
