// The chart's RBAC against the calls the real operator makes, decided by a real API server's RBAC
// authorizer: the chart is rendered by the real helm binary and its ServiceAccounts, roles and
// bindings applied to the run's test API server; the controller and its leader election run as
// the operator's ServiceAccount (with a token as its Pod gets one), and the server's audit log
// records every request of it with the answer: none may be refused, and every grant must be
// used by some call (the chart grants exactly what the operator does). The agent's ServiceAccount may do nothing more than any authenticated user.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeApi, LeaderElector, TraceController } from '@retrace/operator';
import { parseAllDocuments } from 'yaml';
import { K8S_BINARIES, sharedApiServer, type AuditRecord, type TestApiServer } from '../src/k8s/envtest.js';
import { RestClient, type KubeObject } from '../src/k8s/rest.js';
import { TestObjects, installCrds, uniqueName } from '../src/k8s/test-objects.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** The chart as `helm template` renders it with its default values, for this server's version. */
function renderChart(server: TestApiServer, release: string, namespace: string, version: string): KubeObject[] {
  const out = execFileSync(
    join(K8S_BINARIES, 'helm'),
    ['template', release, join(ROOT, 'helm', 'retrace'), '-n', namespace, '--kube-version', version],
    { encoding: 'utf8', env: { ...process.env, KUBECONFIG: server.kubeconfig } },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o);
}

const component = (o: KubeObject): string | undefined => o.metadata.labels?.['app.kubernetes.io/component'];

let server: TestApiServer;
let objects: TestObjects;

beforeAll(async () => {
  server = await sharedApiServer();
  await installCrds(server.rest());
  objects = new TestObjects(server.kubeConfig());
});

afterAll(async () => objects?.cleanup());

test('every API call the operator makes is allowed by the chart, and the agent may make none', async () => {
  const chartNs = await objects.namespace('retrace');
  const shop = await objects.namespace('shop');
  const node = uniqueName('n1');
  await objects.node(node);
  const { gitVersion } = await server.rest().request<{ gitVersion: string }>('GET', '/version');
  const rendered = renderChart(server, uniqueName('rb'), chartNs, gitVersion);
  for (const o of rendered.filter((x) => RBAC_KINDS.includes(x.kind))) await objects.create(o);
  const account = (who: string): string => {
    const sa = rendered.find((o) => o.kind === 'ServiceAccount' && component(o) === who);
    if (!sa) throw new Error(`the chart renders no ServiceAccount of the ${who}`);
    return sa.metadata.name;
  };
  const leaseRule = rendered
    .filter((o) => o.kind === 'Role')
    .flatMap((o) => (o as KubeObject & { rules: Rule[] }).rules)
    .find((r) => r.resources?.includes('leases') && r.resourceNames?.length);
  const leaseName = leaseRule?.resourceNames?.[0];
  if (!leaseName) throw new Error('the chart grants no named Lease to the operator');

  const operatorUser = `system:serviceaccount:${chartNs}:${account('operator')}`;
  const api = new KubeApi((await server.serviceAccountConfig(chartNs, account('operator'))).kubeConfig());
  const log: string[] = [];
  const controller = new TraceController(
    api,
    { setTraces: () => undefined, summary: () => undefined, connectedNodes: () => [node], address: 'x:7443' },
    { statusIntervalMs: 50, log: (m) => log.push(m) },
  );
  const elector = new LeaderElector(api, {
    namespace: chartNs,
    name: leaseName,
    identity: 'me',
    renewMs: 50,
    onStarted: () => void controller.start(),
    onStopped: () => undefined,
    log: (m) => log.push(m),
  });
  const until = async (what: string, f: () => boolean | Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 500 && !(await f()); i++) await new Promise((r) => setTimeout(r, 20));
    if (!(await f())) throw new Error(`timed out waiting for ${what}; the operator said:\n${log.join('\n')}`);
  };
  const admin = objects.rest;
  const trace: KubeObject = {
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name: 't', namespace: shop },
  };
  try {
    elector.start();
    await until('the lease', () => elector.isLeader);
    await new Promise((r) => setTimeout(r, 300));
    await objects.create({ ...trace, spec: { packetFilter: 'udp' } });
    await objects.create({
      apiVersion: 'retrace.dev/v1alpha1',
      kind: 'ClusterTrace',
      metadata: { name: uniqueName('c') },
      spec: {},
    });
    await until('a status', async () => (await admin.get<KubeObject>(trace))?.['status'] !== undefined);
    await admin.delete(trace);
    await until('the Trace gone', async () => (await admin.get(trace)) === undefined);
  } finally {
    controller.stop();
    await elector.stop();
  }

  // The audit log has a request once it is answered: wait for the ones that matter.
  const key = (r: AuditRecord): string => {
    const o = r.objectRef ?? {};
    return `${r.verb} ${o.apiGroup ?? ''}/${o.resource ?? ''}${o.subresource ? `/${o.subresource}` : ''}`;
  };
  // Every grant of the chart's roles must serve a call: the operator's rules, one key per verb.
  const granted = rendered
    // The operator's own (readers' roles, query-access.yaml, are for people).
    .filter(
      (o) =>
        (o.kind === 'ClusterRole' || o.kind === 'Role') &&
        o.metadata.labels?.['app.kubernetes.io/component'] === 'operator',
    )
    .flatMap((o) => (o as KubeObject & { rules: Rule[] }).rules)
    .flatMap((r) =>
      (r.apiGroups ?? ['']).flatMap((g) =>
        (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`)),
      ),
    );
  const wanted = [...new Set(granted)].sort();
  let calls: AuditRecord[] = [];
  const used = (): string[] => [...new Set(calls.map(key))].sort();
  await until('the audit records of every granted call', () => {
    calls = server.auditRecords().filter((r) => r.user.username === operatorUser);
    return wanted.every((w) => used().includes(w));
  }).catch(() => undefined); // the assertion below names what is missing
  // Nothing granted that no call uses, and no call outside what is granted.
  expect(used()).toEqual(wanted);
  const refused = calls
    .filter((r) => r.responseStatus?.code === 403)
    .map((r) => `${key(r)} ${r.requestURI}: ${r.responseStatus?.message ?? ''}`);
  expect(refused).toEqual([]);

  // The agent: exactly what every authenticated user may (asking what it may).
  const agent = new RestClient((await server.serviceAccountConfig(chartNs, account('agent'))).kubeConfig());
  const review = await agent.request<{ status: { resourceRules: Rule[] } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: shop } },
  );
  const resources = review.status.resourceRules.flatMap((r) => r.resources ?? []);
  expect(new Set(resources)).toEqual(
    new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']),
  );
});
