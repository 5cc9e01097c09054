import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { k8s, kubeConfig, refusal } from './helpers.js';

interface Seen {
  type: string;
  name?: string;
  rv?: string;
  object: Record<string, unknown>;
}

/** Runs a client-node Watch until `done`, collecting events. */
function watchUntilDone(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until?: (seen: Seen[]) => boolean,
) {
  const seen: Seen[] = [];
  let abort: AbortController | undefined;
  const done = new Promise<unknown>((resolve) => {
    void new k8s.Watch(kc)
      .watch(
        path,
        query,
        (type: string, object: { metadata?: { name?: string; resourceVersion?: string } }) => {
          seen.push({ type, name: object.metadata?.name, rv: object.metadata?.resourceVersion, object });
          if (until?.(seen)) abort?.abort();
        },
        resolve,
      )
      .then((c) => (abort = c));
  });
  return { seen, done };
}

const pod = (name: string, labels: Record<string, string>, nodeName?: string): V1Pod => ({
  metadata: { name, labels },
  spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] },
});

describe('list and watch', () => {
  let server: FakeApiServer;
  let kc: KubeConfig;
  let core: CoreV1Api;

  beforeAll(async () => {
    server = await FakeApiServer.start({ bookmarkIntervalMs: 50, watchCacheSize: 50 });
    kc = kubeConfig(server);
    core = kc.makeApiClient(k8s.CoreV1Api);
  });
  afterAll(() => server.stop());

  test('a watch from a list resourceVersion replays what happened after it, then follows', async () => {
    await core.createNamespace({ body: { metadata: { name: 'w1' } } });
    await core.createNamespacedPod({ namespace: 'w1', body: pod('before', {}) });
    const list = await core.listNamespacedPod({ namespace: 'w1' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['before']);
    await core.createNamespacedPod({ namespace: 'w1', body: pod('after', {}) });
    await core.patchNamespacedPod(
      { name: 'after', namespace: 'w1', body: { metadata: { labels: { x: 'y' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const { seen, done } = watchUntilDone(
      kc,
      '/api/v1/namespaces/w1/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (s) => s.length === 3,
    );
    await new Promise((r) => setTimeout(r, 50));
    await core.deleteNamespacedPod({ name: 'before', namespace: 'w1' });
    await done;
    expect(seen.map((e) => [e.type, e.name])).toEqual([
      ['ADDED', 'after'],
      ['MODIFIED', 'after'],
      ['DELETED', 'before'],
    ]);
    const rvs = seen.filter((e) => e.type !== 'BOOKMARK').map((e) => Number(e.rv));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
  });

  test('bookmarks arrive periodically and right before timeoutSeconds ends the watch', async () => {
    const { seen, done } = watchUntilDone(kc, '/api/v1/namespaces/default/pods', {
      resourceVersion: server.list('v1', 'Namespace').at(-1)?.metadata.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: 1,
    });
    expect(await done).toBeNull();
    const bookmarks = seen.filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks.length).toBeGreaterThan(3);
    expect(seen.at(-1)?.type).toBe('BOOKMARK');
    expect(bookmarks[0]?.object).toEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { resourceVersion: expect.any(String) },
    });
  });

  test('after compact(), a watch from an older resourceVersion gets a 410 Expired ERROR and ends', async () => {
    const list = await core.listNamespacedPod({ namespace: 'default' });
    await core.createNamespacedPod({ namespace: 'default', body: pod('late', {}) });
    server.compact();
    const { seen, done } = watchUntilDone(kc, '/api/v1/namespaces/default/pods', {
      resourceVersion: list.metadata?.resourceVersion,
    });
    expect(await done).toBeNull();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.type).toBe('ERROR');
    const rv = Number(list.metadata?.resourceVersion);
    expect(seen[0]?.object).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      code: 410,
      reason: 'Expired',
      message: `too old resource version: ${rv} (${rv + 1})`,
    });
  });

  test('label and field selectors on list, and 400 for an unsupported field', async () => {
    await core.createNamespace({ body: { metadata: { name: 'sel' } } });
    await core.createNamespacedPod({ namespace: 'sel', body: pod('a', { app: 'web', tier: 'front' }, 'n1') });
    await core.createNamespacedPod({ namespace: 'sel', body: pod('b', { app: 'api' }, 'n2') });
    await core.createNamespacedPod({ namespace: 'sel', body: pod('c', { app: 'db', tier: 'back' }, 'n1') });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: 'sel', labelSelector, fieldSelector })).items.map(
        (p) => p.metadata?.name,
      );
    expect(await names('app in (web,api)')).toEqual(['a', 'b']);
    expect(await names('app notin (web),tier')).toEqual(['c']);
    expect(await names('!tier')).toEqual(['b']);
    expect(await names('app=web')).toEqual(['a']);
    expect(await names('app!=web')).toEqual(['b', 'c']);
    expect(await names(undefined, 'spec.nodeName=n1')).toEqual(['a', 'c']);
    expect(await names('tier', 'spec.nodeName=n1,metadata.name!=a')).toEqual(['c']);
    expect(await names(undefined, 'status.phase=Pending')).toEqual(['a', 'b', 'c']);
    const bad = await refusal(core.listNamespacedPod({ namespace: 'sel', fieldSelector: 'spec.image=x' }));
    expect(bad.code).toBe(400);
    expect(bad.status.message).toBe('field label not supported: spec.image');
    const all = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.namespace=sel', limit: 2 });
    expect(all.items.map((p) => p.metadata?.name)).toEqual(['a', 'b']);
    const rest = await core.listPodForAllNamespaces({
      fieldSelector: 'metadata.namespace=sel',
      limit: 2,
      _continue: all.metadata?._continue,
    });
    expect(rest.items.map((p) => p.metadata?.name)).toEqual(['c']);
    expect(rest.metadata?.resourceVersion).toBe(all.metadata?.resourceVersion);
  });

  test('a watch with a selector sees objects enter (ADDED) and leave (DELETED) it', async () => {
    const start = (await core.listNamespacedPod({ namespace: 'sel' })).metadata?.resourceVersion;
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const { seen, done } = watchUntilDone(
      kc,
      '/api/v1/namespaces/sel/pods',
      { resourceVersion: start, labelSelector: 'app=web' },
      (s) => s.length === 3,
    );
    await core.patchNamespacedPod(
      { name: 'a', namespace: 'sel', body: { metadata: { labels: { app: 'gone' } } } },
      merge,
    );
    await core.patchNamespacedPod(
      { name: 'b', namespace: 'sel', body: { metadata: { labels: { app: 'web' } } } },
      merge,
    );
    await core.patchNamespacedPod(
      { name: 'b', namespace: 'sel', body: { metadata: { labels: { app: 'web', v: '2' } } } },
      merge,
    );
    await done;
    expect(seen.map((e) => [e.type, e.name])).toEqual([
      ['DELETED', 'a'],
      ['ADDED', 'b'],
      ['MODIFIED', 'b'],
    ]);
  });

  test('an informer (makeInformer) lists, then follows adds, updates and deletes', async () => {
    await core.createNamespace({ body: { metadata: { name: 'inf' } } });
    await core.createNamespacedPod({ namespace: 'inf', body: pod('one', {}) });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/inf/pods', () =>
      core.listNamespacedPod({ namespace: 'inf' }),
    );
    const events: string[] = [];
    informer.on('add', (p) => events.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => events.push(`update ${p.metadata?.name}`));
    informer.on('delete', (p) => events.push(`delete ${p.metadata?.name}`));
    await informer.start();
    await core.createNamespacedPod({ namespace: 'inf', body: pod('two', {}) });
    await core.patchNamespacedPodStatus(
      { name: 'two', namespace: 'inf', body: { status: { phase: 'Running' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedPod({ name: 'one', namespace: 'inf' });
    for (let i = 0; i < 50 && events.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    await informer.stop();
    expect(events).toEqual(['add one', 'add two', 'update two', 'delete one']);

    // Restarted after compact(), it resumes from a forgotten resourceVersion: the 410 ERROR
    // makes client-node's ListWatch drop it, so it lists again and catches up.
    await core.createNamespacedPod({ namespace: 'inf', body: pod('three', {}) });
    server.compact();
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    for (let i = 0; i < 50 && !events.includes('add three'); i++) await new Promise((r) => setTimeout(r, 20));
    await informer.stop();
    expect(events.slice(4)).toEqual(['add three']);
    expect(
      informer
        .list()
        .map((p) => p.metadata?.name)
        .sort(),
    ).toEqual(['three', 'two']);
    const calls = server.requests.filter((r) => r.path === '/api/v1/namespaces/inf/pods').map((r) => r.verb);
    expect(calls).toEqual(['create', 'list', 'watch', 'create', 'create', 'watch', 'list', 'watch']);
  });
});
