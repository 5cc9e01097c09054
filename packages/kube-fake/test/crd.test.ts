import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ApiextensionsV1Api, CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { k8s, kubeConfig, refusal, widget, widgetCrdModel, WIDGETS } from './helpers.js';

describe('CRD registration and custom resource CRUD', () => {
  let server: FakeApiServer;
  let custom: CustomObjectsApi;
  let ext: ApiextensionsV1Api;

  beforeAll(async () => {
    server = await FakeApiServer.start();
    const kc = kubeConfig(server);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  });
  afterAll(() => server.stop());

  test('a created CRD is established and its resource is served', async () => {
    const crd = await ext.createCustomResourceDefinition({ body: widgetCrdModel() });
    const conditions = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toEqual({ NamesAccepted: 'True', Established: 'True' });
    expect(crd.status?.acceptedNames?.listKind).toBe('WidgetList');
    const res = await fetch(`${server.url}/apis/${WIDGETS.group}/v1`, {
      headers: { Authorization: `Bearer ${/token: (\w+)/.exec(server.kubeConfig())?.[1]}` },
    });
    const doc = (await res.json()) as { resources: { name: string }[] };
    expect(doc.resources.map((r) => r.name)).toEqual(['widgets', 'widgets/status']);
  });

  test('create, get, list, replace and delete a custom resource', async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...WIDGETS,
      namespace: 'default',
      body: widget('one', { mode: 'fast' }),
    })) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    expect(created.metadata).toMatchObject({ name: 'one', namespace: 'default', generation: 1 });
    expect(created.metadata.uid).toEqual(expect.any(String));
    expect(created.spec.maxEvents).toBe(100); // defaulted
    const got = (await custom.getNamespacedCustomObject({
      ...WIDGETS,
      namespace: 'default',
      name: 'one',
    })) as typeof created;
    expect(got.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    await custom.replaceNamespacedCustomObject({
      ...WIDGETS,
      namespace: 'default',
      name: 'one',
      body: { ...got, spec: { ...got.spec, maxEvents: 5 } },
    });
    const list = (await custom.listNamespacedCustomObject({ ...WIDGETS, namespace: 'default' })) as {
      items: { spec: { maxEvents: number }; metadata: { generation: number } }[];
    };
    expect(list.items.map((i) => [i.spec.maxEvents, i.metadata.generation])).toEqual([[5, 2]]);
    await custom.deleteNamespacedCustomObject({ ...WIDGETS, namespace: 'default', name: 'one' });
    const gone = await refusal(custom.getNamespacedCustomObject({ ...WIDGETS, namespace: 'default', name: 'one' }));
    expect(gone.code).toBe(404);
    expect(gone.status).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      message: `widgets.${WIDGETS.group} "one" not found`,
    });
  });

  test('KubernetesObjectApi finds the kind through discovery', async () => {
    const objects = kubeConfig(server).makeApiClient(k8s.KubernetesObjectApi);
    const made = await objects.create(widget('two', { mode: 'slow' }) as KubernetesObject);
    expect(made.metadata?.name).toBe('two');
    const read = await objects.read({
      apiVersion: `${WIDGETS.group}/v1`,
      kind: 'Widget',
      metadata: { name: 'two', namespace: 'default' },
    });
    expect(read.metadata?.uid).toBe(made.metadata?.uid);
  });

  test('a namespace that does not exist is a 404, a duplicate a 409', async () => {
    const missing = await refusal(
      custom.createNamespacedCustomObject({
        ...WIDGETS,
        namespace: 'nope',
        body: widget('x', { mode: 'fast' }, 'nope'),
      }),
    );
    expect(missing.code).toBe(404);
    expect(missing.status.message).toBe('namespaces "nope" not found');
    const dup = await refusal(
      custom.createNamespacedCustomObject({ ...WIDGETS, namespace: 'default', body: widget('two', { mode: 'fast' }) }),
    );
    expect(dup.code).toBe(409);
    expect(dup.status.reason).toBe('AlreadyExists');
  });

  test('the CRD itself is validated', async () => {
    const bad = widgetCrdModel();
    bad.metadata = { name: 'gadgets.test.kube-fake.dev' };
    const r = await refusal(ext.createCustomResourceDefinition({ body: bad }));
    expect(r.code).toBe(422);
    expect(r.status.message).toContain(
      'metadata.name: Invalid value: "gadgets.test.kube-fake.dev": must be spec.names.plural+"."+spec.group',
    );
  });
});
