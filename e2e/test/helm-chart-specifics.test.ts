// The chart's specific settings, each rendered by the real helm: RBAC against the operator's API
// calls, generated and cert-manager certificates, names that follow the release, persistence,
// the ServiceMonitor, the separate aggregator, readers' access, what the templates refuse,
// AppArmor by Kubernetes version, NOTES.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { helmNotes, helmTemplate } from '../src/chart/helm.js';
import { checkShape } from '../src/chart/k8s-shapes.js';
import { type Manifest } from '../src/chart/manifests.js';
import { rbacAllows } from '../src/chart/rbac.js';
import {
  CHART,
  KUBE_VERSION,
  NS,
  arr,
  args,
  containers,
  find,
  kinds,
  obj,
  podAnnotations,
  podSpec,
  render,
  renderVariant,
  secretData,
  type Obj,
} from '../src/chart/renders.js';

describe('chart specifics', () => {
  const OPERATOR = `${NS}/retrace-operator`;
  /** The API calls the operator makes (operator/src/controller/kube-api.ts): informers, the
   * finalizer, the status writer, leader election. */
  const OPERATOR_CALLS: [string, string, string, string?][] = [
    ...['list', 'watch', 'update'].flatMap((v) =>
      ['traces', 'clustertraces'].map((r): [string, string, string] => [v, 'retrace.dev', r]),
    ),
    ['update', 'retrace.dev', 'traces/status', 'shop'],
    ['update', 'retrace.dev', 'clustertraces/status'],
    ...['list', 'watch'].flatMap((v) =>
      ['nodes', 'pods', 'namespaces'].map((r): [string, string, string] => [v, '', r]),
    ),
    ['list', '', 'pods', 'shop'],
    ['create', 'coordination.k8s.io', 'leases', NS],
  ];
  /** Calls on one object. */
  const OPERATOR_NAMED_CALLS: [string, string, string, string, string][] = [
    ['get', 'coordination.k8s.io', 'leases', NS, 'retrace-operator'],
    ['update', 'coordination.k8s.io', 'leases', NS, 'retrace-operator'],
  ];

  test('RBAC lets the operator make its calls, and no more', async () => {
    const manifests = await renderVariant('default');
    for (const [verb, group, resource, ns] of OPERATOR_CALLS)
      expect([verb, group, resource, ns, rbacAllows(manifests, OPERATOR, verb, group, resource, ns)]).toEqual([
        verb,
        group,
        resource,
        ns,
        true,
      ]);
    for (const [verb, group, resource, ns, name] of OPERATOR_NAMED_CALLS) {
      expect([verb, resource, name, rbacAllows(manifests, OPERATOR, verb, group, resource, ns, name)]).toEqual([
        verb,
        resource,
        name,
        true,
      ]);
      // Other Leases of the namespace are not the operator's to read or renew.
      expect(rbacAllows(manifests, OPERATOR, verb, group, resource, ns, 'kube-scheduler')).toBe(false);
    }
    const denied: [string, string, string, string?][] = [
      ['get', '', 'secrets', NS],
      ['list', '', 'secrets'],
      ['delete', 'retrace.dev', 'traces', 'shop'],
      ['create', 'retrace.dev', 'clustertraces'],
      ['update', '', 'pods', 'shop'],
      ['get', 'coordination.k8s.io', 'leases', 'kube-system'],
      ['delete', 'coordination.k8s.io', 'leases', NS],
      ['update', 'retrace.dev', 'traces/scale', 'shop'],
      // Calls the operator does not make are not granted either.
      ['patch', 'retrace.dev', 'traces', 'shop'],
      ['get', 'retrace.dev', 'clustertraces'],
      ['patch', 'retrace.dev', 'clustertraces/status'],
      ['update', 'retrace.dev', 'traces/finalizers', 'shop'],
      ['get', '', 'nodes'],
      ['create', '', 'events', 'shop'],
    ];
    for (const [verb, group, resource, ns] of denied)
      expect([verb, resource, ns, rbacAllows(manifests, OPERATOR, verb, group, resource, ns)]).toEqual([
        verb,
        resource,
        ns,
        false,
      ]);
    // Agents and the aggregator may call nothing.
    for (const sa of [`${NS}/retrace-agent`, `${NS}/retrace-aggregator`])
      for (const [verb, group, resource, ns] of OPERATOR_CALLS)
        expect(rbacAllows(manifests, sa, verb, group, resource, ns)).toBe(false);
  });

  test('the shape check catches a misspelt field, a wrong type and a missing required field', async () => {
    const m = (await renderVariant('default')).find((x) => x.object.kind === 'DaemonSet') as Manifest;
    const copy = JSON.parse(JSON.stringify(m.object)) as Manifest['object'];
    const c = containers(copy)[0] as Obj;
    obj(c['securityContext'])['readOnlyRootFileSystem'] = true;
    obj(arr(c['ports'])[0])['containerPort'] = '9091';
    delete c['name'];
    expect(checkShape({ ...m, object: copy })).toEqual([
      'DaemonSet/retrace-agent.spec.template.spec.containers[0].ports[0].containerPort: got "9091", want int32',
      'DaemonSet/retrace-agent.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: no such field in V1SecurityContext',
      'DaemonSet/retrace-agent.spec.template.spec.containers[0]: V1Container requires name',
    ]);
  });

  test('rbac.create=false leaves RBAC out', async () => {
    const manifests = await render({ values: [{ rbac: { create: false } }] });
    expect(manifests.filter((m) => /Role/.test(m.object.kind))).toEqual([]);
    expect(rbacAllows(manifests, OPERATOR, 'list', 'retrace.dev', 'traces')).toBe(false);
  });

  test('generated certificates: the CA Secret signs the server and agent certificates; the server names the Service', async () => {
    const manifests = await renderVariant('persistence');
    const ca = secretData(manifests, 'retrace-ca');
    const server = secretData(manifests, 'retrace-server-tls');
    const agent = secretData(manifests, 'retrace-agent-tls');
    expect(find(manifests, 'Secret', 'retrace-ca')['type']).toBe('kubernetes.io/tls');
    // The CA is kept in its own Secret, with its key; both certificates carry it as ca.crt.
    expect(server['ca.crt']).toBe(ca['tls.crt']);
    expect(agent['ca.crt']).toBe(ca['tls.crt']);
    const caCert = new X509Certificate(ca['tls.crt'] as string);
    const cert = new X509Certificate(server['tls.crt'] as string);
    const agentCert = new X509Certificate(agent['tls.crt'] as string);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=retrace-ca');
    expect(caCert.checkPrivateKey(createPrivateKey(ca['tls.key'] as string))).toBe(true);
    for (const c of [cert, agentCert]) {
      expect(c.checkIssued(caCert)).toBe(true);
      expect(c.verify(caCert.publicKey)).toBe(true);
    }
    expect(cert.checkPrivateKey(createPrivateKey(server['tls.key'] as string))).toBe(true);
    expect(agentCert.checkPrivateKey(createPrivateKey(agent['tls.key'] as string))).toBe(true);
    const names = [
      'retrace-aggregator',
      `retrace-aggregator.${NS}`,
      `retrace-aggregator.${NS}.svc`,
      `retrace-aggregator.${NS}.svc.cluster.local`,
      'retrace.example.com',
    ];
    expect((cert.subjectAltName ?? '').split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
    expect(cert.subject).toBe('CN=retrace-aggregator');
    expect(agentCert.subject).toBe('CN=retrace-agent');
    // The names are recorded on the server's Secret (an upgrade that changes them reissues it), and
    // hashed on the server's Pods (which then roll).
    const key = obj(obj(find(manifests, 'Secret', 'retrace-server-tls')['metadata'])['annotations'])[
      'retrace.dev/server-names'
    ];
    expect(String(key).split(',').sort()).toEqual([...names].sort());
    const hash = createHash('sha256').update(String(key)).digest('hex').slice(0, 16);
    expect(podAnnotations(find(manifests, 'Deployment', 'retrace-operator'))['retrace.dev/server-names']).toBe(hash);
    const plain = podAnnotations(find(await renderVariant('default'), 'Deployment', 'retrace-operator'));
    expect(plain['retrace.dev/server-names']).not.toBe(hash);
    // openssl agrees: the server certificate is good for TLS servers, the agent's for clients.
    const dir = mkdtempSync(join(tmpdir(), 'rt-chart-certs-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), ca['tls.crt'] as string);
      writeFileSync(join(dir, 'server.crt'), server['tls.crt'] as string);
      writeFileSync(join(dir, 'agent.crt'), agent['tls.crt'] as string);
      const verify = (purpose: string, file: string): string =>
        execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', purpose, join(dir, file)], {
          encoding: 'utf8',
        });
      expect(verify('sslserver', 'server.crt')).toMatch(/: OK/);
      expect(verify('sslclient', 'server.crt')).toMatch(/: OK/);
      expect(verify('sslclient', 'agent.crt')).toMatch(/: OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // `helm template` looks nothing up, so every run makes a new CA (what the README warns GitOps about).
    const again = await helmTemplate(CHART, { release: 'retrace', namespace: NS, kubeVersion: KUBE_VERSION });
    expect(secretData(again, 'retrace-ca')['tls.crt']).not.toBe(
      secretData(await renderVariant('default'), 'retrace-ca')['tls.crt'],
    );
  });

  test('resource names follow the release name', async () => {
    const manifests = await render({ release: 'prod', namespace: 'tracing' });
    expect(kinds(manifests, 'Deployment').map((d) => obj(d['metadata'])['name'])).toEqual(['prod-retrace-operator']);
    const agent = containers(find(manifests, 'DaemonSet', 'prod-retrace-agent'))[0] as Obj;
    expect(args(agent)).toContain('--server=prod-retrace-aggregator.tracing.svc:7443');
    const ca = new X509Certificate(secretData(manifests, 'prod-retrace-ca')['tls.crt'] as string);
    const cert = new X509Certificate(secretData(manifests, 'prod-retrace-server-tls')['tls.crt'] as string);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:prod-retrace-aggregator.tracing.svc');
    expect(
      rbacAllows(
        manifests,
        'tracing/prod-retrace-operator',
        'update',
        'coordination.k8s.io',
        'leases',
        'tracing',
        'prod-retrace-operator',
      ),
    ).toBe(true);
  });

  test('cert-manager: a self-signed CA and Issuer, or the given issuer; certificates name the Service', async () => {
    const own = await renderVariant('tls-cert-manager');
    expect(kinds(own, 'Issuer').map((i) => obj(i['metadata'])['name'])).toEqual(['retrace-selfsigned', 'retrace-ca']);
    const server = obj(find(own, 'Certificate', 'retrace-server')['spec']);
    expect(server['dnsNames']).toEqual([
      'retrace-aggregator',
      `retrace-aggregator.${NS}`,
      `retrace-aggregator.${NS}.svc`,
      `retrace-aggregator.${NS}.svc.cluster.local`,
    ]);
    expect(server['issuerRef']).toEqual({ name: 'retrace-ca', kind: 'Issuer', group: 'cert-manager.io' });
    expect(kinds(own, 'Secret')).toEqual([]);
    const theirs = await renderVariant('tls-cert-manager-issuer');
    expect(kinds(theirs, 'Issuer')).toEqual([]);
    expect(obj(find(theirs, 'Certificate', 'retrace-agent')['spec'])['issuerRef']).toEqual({
      name: 'cluster-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
  });

  test('existing certificates: no Secret or Certificate made; the Pods mount the named Secrets', async () => {
    const manifests = await renderVariant('tls-existing');
    expect([...kinds(manifests, 'Secret'), ...kinds(manifests, 'Certificate')]).toEqual([]);
    const secretOf = (w: Obj): unknown =>
      obj(
        arr(podSpec(w)['volumes'])
          .map(obj)
          .find((v) => v['name'] === 'tls')?.['secret'],
      )['secretName'];
    expect(secretOf(find(manifests, 'DaemonSet', 'retrace-agent'))).toBe('my-retrace-agent');
    expect(secretOf(find(manifests, 'Deployment', 'retrace-operator'))).toBe('my-retrace-server');
    // Without the Secrets' names, helm's schema check refuses the values (in no fixed order).
    const refused = await render({ values: [{ tls: { source: 'existing' } }] }).then(
      () => 'rendered',
      (e: Error) => e.message,
    );
    for (const name of ['serverSecret', 'agentSecret'])
      expect(refused).toContain(`- at '/tls/existing/${name}': minLength: got 0, want 1`);
  });

  test('persistence: a claim kept across uninstalls, mounted at the store', async () => {
    const manifests = await renderVariant('persistence');
    const pvc = find(manifests, 'PersistentVolumeClaim', 'retrace-store');
    expect(obj(obj(pvc['metadata'])['annotations'])['helm.sh/resource-policy']).toBe('keep');
    expect(obj(obj(obj(pvc['spec'])['resources'])['requests'])['storage']).toBe('50Gi');
    const store = arr(podSpec(find(manifests, 'Deployment', 'retrace-operator'))['volumes'])
      .map(obj)
      .find((v) => v['name'] === 'store');
    expect(store?.['persistentVolumeClaim']).toEqual({ claimName: 'retrace-store' });
    const plain = arr(podSpec(find(await renderVariant('default'), 'Deployment', 'retrace-operator'))['volumes']).map(
      obj,
    );
    expect(plain.find((v) => v['name'] === 'store')?.['emptyDir']).toEqual({ sizeLimit: '10Gi' });
  });

  test('ServiceMonitor selects every metrics Service of the release', async () => {
    const manifests = await renderVariant('servicemonitor');
    const sm = find(manifests, 'ServiceMonitor', 'retrace');
    expect(obj(obj(sm['metadata'])['labels'])['release']).toBe('prometheus');
    const match = obj(obj(obj(sm['spec'])['selector'])['matchLabels']);
    const selected = kinds(manifests, 'Service').filter((s) =>
      Object.entries(match).every(([k, v]) => obj(obj(s['metadata'])['labels'])[k] === v),
    );
    expect(selected.map((s) => obj(s['metadata'])['name']).sort()).toEqual(['retrace-agent', 'retrace-aggregator']);
    expect(kinds(await renderVariant('default'), 'ServiceMonitor')).toEqual([]);
  });

  test('the separate aggregator: its own Deployment, Service target, and a token only to check readers', async () => {
    const manifests = await renderVariant('aggregator-separate');
    const agg = find(manifests, 'Deployment', 'retrace-aggregator');
    // query.authz=kubernetes (the default): it asks the API server, as itself, who may read.
    expect(podSpec(agg)['automountServiceAccountToken']).toBe(true);
    expect(containers(agg)[0]?.['args']).toContain('--query-authz=kubernetes');
    const delegated = find(manifests, 'ClusterRoleBinding', 'retrace-query-authz');
    expect(obj(delegated['roleRef'])['name']).toBe('system:auth-delegator');
    expect(arr(delegated['subjects']).map((x) => obj(x)['name'])).toEqual(['retrace-aggregator']);
    const certOnly = await render({ variant: 'aggregator-separate', values: [{ query: { authz: 'certificate' } }] });
    expect(podSpec(find(certOnly, 'Deployment', 'retrace-aggregator'))['automountServiceAccountToken']).toBe(false);
    expect(containers(find(certOnly, 'Deployment', 'retrace-aggregator'))[0]?.['args']).not.toContain(
      '--query-authz=kubernetes',
    );
    expect(kinds(certOnly, 'ClusterRoleBinding').map((b) => obj(b['metadata'])['name'])).not.toContain(
      'retrace-query-authz',
    );
    expect(
      obj(obj(find(manifests, 'Service', 'retrace-aggregator')['spec'])['selector'])['app.kubernetes.io/component'],
    ).toBe('aggregator');
    expect(obj(find(manifests, 'Deployment', 'retrace-operator')['spec'])['replicas']).toBe(2);
    const operatorMounts = arr(containers(find(manifests, 'Deployment', 'retrace-operator'))[0]?.['volumeMounts']).map(
      (m) => obj(m)['name'],
    );
    expect(operatorMounts).not.toContain('store');
    // Both serve the server certificate, so both roll when its names change.
    expect(podAnnotations(agg)['retrace.dev/server-names']).toBe(
      podAnnotations(find(manifests, 'Deployment', 'retrace-operator'))['retrace.dev/server-names'],
    );
  });

  test("readers: the CA in a ConfigMap every authenticated user may get, Kubernetes' view role reads traces, edit makes them", async () => {
    const manifests = await renderVariant('default');
    const ca = find(manifests, 'ConfigMap', 'retrace-ca');
    const server = find(manifests, 'Secret', 'retrace-server-tls');
    expect(String(obj(ca['data'])['ca.crt']).trim()).toBe(
      Buffer.from(String(obj(server['data'])['ca.crt']), 'base64')
        .toString('utf8')
        .trim(),
    );
    const role = find(manifests, 'Role', 'retrace-ca-reader');
    expect(arr(role['rules']).map((r) => obj(r))).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['retrace-ca'], verbs: ['get'] },
    ]);
    const binding = find(manifests, 'RoleBinding', 'retrace-ca-reader');
    expect(arr(binding['subjects']).map((x) => obj(x)['name'])).toEqual(['system:authenticated']);
    const view = find(manifests, 'ClusterRole', 'retrace-view');
    expect(obj(obj(view['metadata'])['labels'])['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true');
    expect(arr(view['rules']).map((r) => obj(r)['verbs'])).toEqual([['get', 'list', 'watch']]);
    const edit = find(manifests, 'ClusterRole', 'retrace-edit');
    expect(obj(obj(edit['metadata'])['labels'])['rbac.authorization.k8s.io/aggregate-to-view']).toBeUndefined();
    // The embedded aggregator runs in the operator: that account is the one delegated.
    const delegated = find(manifests, 'ClusterRoleBinding', 'retrace-query-authz');
    expect(arr(delegated['subjects']).map((x) => obj(x)['name'])).toEqual(['retrace-operator']);
    expect(containers(find(manifests, 'Deployment', 'retrace-operator'))[0]?.['args']).toContain(
      '--query-authz=kubernetes',
    );
    const off = await render({ values: [{ query: { publishCa: false }, rbac: { aggregateToDefaultRoles: false } }] });
    expect(kinds(off, 'ConfigMap')).toEqual([]);
    expect(kinds(off, 'ClusterRole').map((r) => obj(r['metadata'])['name'])).toEqual(['retrace-operator']);
  });

  test('values the templates refuse: two embedded aggregators, replicas without leader election', async () => {
    await expect(render({ values: [{ operator: { replicas: 2 } }] })).rejects.toThrow(
      /execution error at \(retrace\/templates\/operator-deployment\.yaml:\d+:\d+\): operator\.replicas > 1 needs aggregator\.separate=true/,
    );
    await expect(
      render({ values: [{ aggregator: { separate: true }, operator: { replicas: 2, leaderElection: false } }] }),
    ).rejects.toThrow(/operator\.replicas > 1 needs operator\.leaderElection=true/);
  });

  test('Kubernetes before 1.30 gets the AppArmor annotation instead of the field; before 1.25 is refused', async () => {
    const manifests = await render({ kubeVersion: 'v1.29.3' });
    const agent = find(manifests, 'DaemonSet', 'retrace-agent');
    expect(podAnnotations(agent)['container.apparmor.security.beta.kubernetes.io/agent']).toBe('unconfined');
    expect(obj(containers(agent)[0]?.['securityContext'])['appArmorProfile']).toBeUndefined();
    const current = find(await renderVariant('default'), 'DaemonSet', 'retrace-agent');
    expect(obj(containers(current)[0]?.['securityContext'])['appArmorProfile']).toEqual({ type: 'Unconfined' });
    await expect(render({ kubeVersion: 'v1.24.0' })).rejects.toThrow(
      /chart requires kubeVersion: >=1\.25\.0-0 which is incompatible with Kubernetes v1\.24\.0/,
    );
  });

  test('NOTES name the aggregator address', async () => {
    expect(await helmNotes(CHART, { release: 'retrace', namespace: NS })).toContain(
      `retrace-aggregator.${NS}.svc:7443`,
    );
  });
});
