// The chart's RBAC against the calls the real operator makes: the controller and its leader
// election run against the in-process API server through client-node, every request it sends
// is recorded, and each must be allowed to the operator's ServiceAccount in the chart as
// `helm template` renders it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { KubeApi, LeaderElector, TraceController } from '@retrace/operator';
import { parse } from 'yaml';
import { helmTemplate } from '../src/chart/helm.js';
import { rbacAllows } from '../src/chart/rbac.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'retrace-system';

/** RBAC's view of a request path: API group, resource (with subresource), namespace, name. */
function rbacTarget(path: string): { group: string; resource: string; namespace?: string; name?: string } {
  const p = path.split('/').filter(Boolean);
  const rest = p[0] === 'api' ? p.slice(2) : p.slice(3);
  const group = p[0] === 'api' ? '' : (p[1] ?? '');
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2) {
    namespace = rest[1];
    rest.splice(0, 2);
  }
  const [res = '', name, sub] = rest;
  return {
    group,
    resource: sub ? `${res}/${sub}` : res,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

test('every API call the operator makes is allowed by the chart, and the agent makes none', async () => {
  const server = await FakeApiServer.start({ bookmarkIntervalMs: 200 });
  try {
    for (const f of ['trace.yaml', 'clustertrace.yaml'])
      server.apply(parse(readFileSync(join(ROOT, 'crds', f), 'utf8')));
    server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    server.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeConfig());
    const api = new KubeApi(kc);
    const before = server.requests.length;
    const controller = new TraceController(
      api,
      { setTraces: () => undefined, summary: () => undefined, connectedNodes: () => ['n1'], address: 'x:7443' },
      { statusIntervalMs: 50, log: () => undefined },
    );
    const elector = new LeaderElector(api, {
      namespace: NS,
      name: 'retrace-operator',
      identity: 'me',
      renewMs: 50,
      onStarted: () => void controller.start(),
      onStopped: () => undefined,
    });
    elector.start();
    const until = async (f: () => boolean): Promise<void> => {
      for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(f()).toBe(true);
    };
    await until(() => elector.isLeader);
    const trace = { apiVersion: 'retrace.dev/v1alpha1', kind: 'Trace', metadata: { name: 't', namespace: 'shop' } };
    await new Promise((r) => setTimeout(r, 300));
    server.apply({ ...trace, spec: { packetFilter: 'udp' } });
    server.apply({ apiVersion: 'retrace.dev/v1alpha1', kind: 'ClusterTrace', metadata: { name: 'c' }, spec: {} });
    const status = (): unknown =>
      (server.get('retrace.dev/v1alpha1', 'Trace', 'shop', 't') as { status?: unknown })?.status;
    await until(() => status() !== undefined);
    server.delete('retrace.dev/v1alpha1', 'Trace', 'shop', 't');
    await until(() => server.get('retrace.dev/v1alpha1', 'Trace', 'shop', 't') === undefined);
    controller.stop();
    await elector.stop();

    const calls = server.requests.slice(before);
    const manifests = await helmTemplate(join(ROOT, 'helm', 'retrace'), {
      release: 'retrace',
      namespace: NS,
      kubeVersion: 'v1.30.0',
    });
    const seen = new Set<string>();
    for (const c of calls) {
      const t = rbacTarget(c.path);
      const key = `${c.verb} ${t.group}/${t.resource} ns=${t.namespace ?? '-'} name=${c.verb === 'create' || c.verb === 'list' || c.verb === 'watch' ? '-' : (t.name ?? '-')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const allowed = rbacAllows(
        manifests,
        `${NS}/retrace-operator`,
        c.verb,
        t.group,
        t.resource,
        t.namespace,
        c.verb === 'create' ? undefined : t.name,
      );
      expect([key, allowed]).toEqual([key, true]);
    }
    // The calls that matter were made (so the check above checked them).
    for (const want of [
      'watch retrace.dev/traces',
      'update retrace.dev/traces/status',
      'update retrace.dev/traces ',
      'get coordination.k8s.io/leases',
    ])
      expect([...seen].some((k) => k.startsWith(want))).toBe(true);
  } finally {
    await server.stop();
  }
});
