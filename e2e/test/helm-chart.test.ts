// The chart (helm/retrace), rendered by the real helm (`helm template`, the binary e2e/k8s/cluster.sh
// builds) for its default values and the main alternatives (helm/retrace/ci/*.yaml), linted with
// `helm lint --strict`, and checked: Kubernetes shapes, the agent's privileges, RBAC against the
// operator's API calls, CRDs equal to crds/, the values schema (as helm applies it), generated
// certificates, flags the binaries take. Also the CRDs' own examples and the Dockerfiles' references.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { helmLint, helmNotes, helmTemplate, type TemplateOptions } from '../src/chart/helm.js';
import { checkShape } from '../src/chart/k8s-shapes.js';
import { validate, type Schema } from '../src/chart/json-schema.js';
import { parseYaml, type Manifest } from '../src/chart/manifests.js';
import { rbacAllows } from '../src/chart/rbac.js';
import { SEPARATE_REFUSED } from '@retrace/aggregator';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'helm', 'retrace');
const NS = 'retrace-system';
/** The Kubernetes the renders assume unless a test says otherwise (helm's own default is older than the chart allows). */
const KUBE_VERSION = 'v1.30.0';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const CI_FILES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
/** Variant name -> the values files given to helm: `default` is values.yaml alone. */
const VARIANTS: Record<string, string[]> = {
  default: [],
  ...Object.fromEntries(CI_FILES.map((f) => [f.replace(/-values\.yaml$/, ''), [join(CHART, 'ci', f)]])),
};
const variantValues = (variant: string): Obj[] =>
  (VARIANTS[variant] ?? []).map((f) => obj(parseYaml(readFileSync(f, 'utf8'))));

interface RenderInput {
  variant?: string;
  release?: string;
  namespace?: string;
  values?: Obj[];
  kubeVersion?: string;
}

/** `helm template` is a process per render: identical inputs are rendered once per file. */
const cache = new Map<string, Promise<Manifest[]>>();
function render(input: RenderInput = {}): Promise<Manifest[]> {
  const o: TemplateOptions = {
    release: input.release ?? 'retrace',
    namespace: input.namespace ?? NS,
    valuesFiles: VARIANTS[input.variant ?? 'default'] ?? [],
    values: input.values ?? [],
    kubeVersion: input.kubeVersion ?? KUBE_VERSION,
  };
  const key = JSON.stringify(o);
  let r = cache.get(key);
  if (!r) {
    r = helmTemplate(CHART, o);
    r.catch(() => undefined); // awaited (or expected to fail) by the test that asked
    cache.set(key, r);
  }
  return r;
}
const renderVariant = (variant: string): Promise<Manifest[]> => render({ variant });

const find = (ms: Manifest[], kind: string, name: string): Obj => {
  const m = ms.find((x) => x.object.kind === kind && x.object.metadata.name === name);
  if (!m)
    throw new Error(`no ${kind}/${name} in ${ms.map((x) => `${x.object.kind}/${x.object.metadata.name}`).join(', ')}`);
  return m.object;
};
const kinds = (ms: Manifest[], kind: string): Obj[] => ms.filter((m) => m.object.kind === kind).map((m) => m.object);
const podSpec = (workload: Obj): Obj => obj(obj(obj(workload['spec'])['template'])['spec']);
const podAnnotations = (workload: Obj): Obj =>
  obj(obj(obj(obj(workload['spec'])['template'])['metadata'])['annotations']);
const containers = (workload: Obj): Obj[] => arr(podSpec(workload)['containers']).map(obj);
const args = (c: Obj): string[] => arr(c['args']).map(String);
/** A Secret's data, decoded. */
const secretData = (ms: Manifest[], name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(obj(find(ms, 'Secret', name)['data'])).map(([k, v]) => [
      k,
      Buffer.from(String(v), 'base64').toString(),
    ]),
  );

/** The long options a binary's parseArgs accepts, read from its source. */
function binaryFlags(path: string): Set<string> {
  const src = readFileSync(join(ROOT, path), 'utf8');
  // parseArgs({ options: {...} }) in a binary, or a shared `..._FLAGS = {...}` table.
  const block = /(?:options:|_FLAGS =)\s*\{([\s\S]*?)\n\s*\}/.exec(src)?.[1] ?? '';
  return new Set([...block.matchAll(/^\s*'?([a-z][a-z-]*)'?:\s*\{\s*type:/gm)].map((m) => m[1] as string));
}

describe('helm lint --strict', () => {
  const passes = (o: Parameters<typeof helmLint>[1]): Promise<string> => helmLint(CHART, o);

  test('passes for values.yaml and each ci values file (the schema included)', async () => {
    const reports = await Promise.all(
      Object.entries(VARIANTS).map(async ([name, files]) => [name, await passes({ valuesFiles: files })]),
    );
    for (const [name, report] of reports)
      expect([name, report]).toEqual([name, expect.stringMatching(/0 chart\(s\) failed/)]);
  });

  test('passes at the Kubernetes version the test cluster runs (deprecated APIs are warnings, so failures)', async () => {
    const version = /^K8S_VERSION=(v\S+)$/m.exec(
      readFileSync(join(ROOT, 'e2e', 'k8s', 'lib', 'common.sh'), 'utf8'),
    )?.[1];
    expect(version).toMatch(/^v1\.\d+\.\d+$/);
    expect(await passes({ kubeVersion: version as string })).toMatch(/0 chart\(s\) failed/);
  });

  test('fails on a value the schema refuses, naming it', async () => {
    await expect(passes({ set: ['tls.source=vault'] })).rejects.toThrow(
      /\[ERROR\] values\.yaml: - at '\/tls\/source': value must be one of 'helm', 'cert-manager', 'existing'/,
    );
  });
});

describe.each(Object.keys(VARIANTS))('chart rendered with %s values', (variant) => {
  test('every document is a Kubernetes object of the right shape', async () => {
    const manifests = await renderVariant(variant);
    expect(manifests.length).toBeGreaterThan(5);
    const problems = manifests.flatMap((m) => checkShape(m));
    expect(problems).toEqual([]);
    const keys = manifests.map(
      (m) => `${m.object.kind}/${m.object.metadata['namespace'] ?? ''}/${m.object.metadata.name}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    for (const m of manifests) {
      const namespaced = !['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(m.object.kind);
      expect([m.object.kind, m.object.metadata['namespace']]).toEqual([m.object.kind, namespaced ? NS : undefined]);
      if (m.object.kind !== 'CustomResourceDefinition')
        expect(obj(m.object.metadata['labels'])['app.kubernetes.io/instance']).toBe('retrace');
    }
  });

  test('workloads hold together: selectors, ports, volumes, secrets and accounts they name exist', async () => {
    const manifests = await renderVariant(variant);
    const workloads = [...kinds(manifests, 'Deployment'), ...kinds(manifests, 'DaemonSet')];
    const secrets = new Set(kinds(manifests, 'Secret').map((s) => obj(s['metadata'])['name']));
    for (const c of kinds(manifests, 'Certificate')) secrets.add(obj(c['spec'])['secretName']);
    // Secrets made outside the chart (tls.source=existing) are named by the values.
    for (const tls of variantValues(variant).map((v) => obj(v['tls'])))
      if (tls['source'] === 'existing') for (const s of Object.values(obj(tls['existing']))) secrets.add(s);
    const accounts = new Set(kinds(manifests, 'ServiceAccount').map((s) => obj(s['metadata'])['name']));
    const claims = new Set(kinds(manifests, 'PersistentVolumeClaim').map((s) => obj(s['metadata'])['name']));
    for (const w of workloads) {
      const sel = obj(obj(obj(w['spec'])['selector'])['matchLabels']);
      const labels = obj(obj(obj(obj(w['spec'])['template'])['metadata'])['labels']);
      for (const [k, v] of Object.entries(sel)) expect([k, labels[k]]).toEqual([k, v]);
      const spec = podSpec(w);
      expect(accounts.has(spec['serviceAccountName'])).toBe(true);
      const volumes = new Map(arr(spec['volumes']).map((v) => [obj(v)['name'], obj(v)]));
      for (const v of volumes.values()) {
        const secret = obj(v['secret'])['secretName'];
        if (secret !== undefined) expect([v['name'], secrets.has(secret)]).toEqual([v['name'], true]);
        const claim = obj(v['persistentVolumeClaim'])['claimName'];
        if (claim !== undefined) expect(claims.has(claim)).toBe(true);
      }
      for (const c of containers(w)) {
        const ports = new Set(arr(c['ports']).map((p) => obj(p)['name']));
        for (const probe of ['readinessProbe', 'livenessProbe'])
          expect(ports.has(obj(obj(c[probe])['httpGet'])['port'])).toBe(true);
        for (const m of arr(c['volumeMounts'])) expect(volumes.has(obj(m)['name'])).toBe(true);
        expect(String(c['image'])).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
      }
    }
    // Every Service selects the Pods of some workload, on ports they name.
    for (const s of kinds(manifests, 'Service')) {
      const sel = obj(obj(s['spec'])['selector']);
      const target = workloads.find((w) => {
        const labels = obj(obj(obj(obj(w['spec'])['template'])['metadata'])['labels']);
        return Object.entries(sel).every(([k, v]) => labels[k] === v);
      });
      expect([obj(s['metadata'])['name'], target !== undefined]).toEqual([obj(s['metadata'])['name'], true]);
      const ports = new Set(containers(target as Obj).flatMap((c) => arr(c['ports']).map((p) => obj(p)['name'])));
      for (const p of arr(obj(s['spec'])['ports'])) expect(ports.has(obj(p)['targetPort'])).toBe(true);
    }
  });

  test('the agent has exactly the documented capabilities, and nothing runs privileged', async () => {
    const manifests = await renderVariant(variant);
    const agent = find(manifests, 'DaemonSet', 'retrace-agent');
    const spec = podSpec(agent);
    const [c] = containers(agent);
    const sc = obj(c?.['securityContext']);
    const caps = obj(sc['capabilities']);
    const extra = variant === 'persistence' ? ['SYS_RESOURCE'] : [];
    expect(caps['drop']).toEqual(['ALL']);
    expect(caps['add']).toEqual(['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'SYSLOG', ...extra]);
    expect(sc['privileged']).toBe(false);
    expect(sc['readOnlyRootFilesystem']).toBe(true);
    // The API server refuses allowPrivilegeEscalation=false with SYS_ADMIN.
    expect(sc['allowPrivilegeEscalation']).toBeUndefined();
    expect(spec['automountServiceAccountToken']).toBe(false);
    expect([spec['hostPID'], spec['hostNetwork'], spec['dnsPolicy']]).toEqual([true, true, 'ClusterFirstWithHostNet']);
    expect(spec['hostIPC']).toBeUndefined();
    const hostPaths = arr(spec['volumes'])
      .map(obj)
      .filter((v) => v['hostPath'] !== undefined)
      .map((v) => [v['name'], obj(v['hostPath'])['path']]);
    expect(hostPaths).toEqual([
      ['btf', '/sys/kernel/btf'],
      ['tracefs', '/sys/kernel/tracing'],
      ['debugfs', '/sys/kernel/debug'],
    ]);
    for (const m of arr(c?.['volumeMounts']).map(obj))
      if (hostPaths.some(([n]) => n === m['name'])) expect([m['name'], m['readOnly']]).toEqual([m['name'], true]);
    expect(obj(spec['tolerations'] ? arr(spec['tolerations'])[0] : {})).toEqual({ operator: 'Exists' });
    // Nothing anywhere is privileged or escalates.
    for (const m of manifests) expect(m.text).not.toMatch(/privileged:\s*true/);
    for (const w of [...kinds(manifests, 'Deployment')]) {
      const pod = podSpec(w);
      expect(obj(pod['securityContext'])['runAsNonRoot']).toBe(true);
      expect(pod['hostPID'] ?? pod['hostNetwork']).toBeUndefined();
      for (const wc of containers(w)) {
        const s = obj(wc['securityContext']);
        expect([s['allowPrivilegeEscalation'], s['readOnlyRootFilesystem'], obj(s['capabilities'])['drop']]).toEqual([
          false,
          true,
          ['ALL'],
        ]);
        expect(obj(s['capabilities'])['add']).toBeUndefined();
      }
    }
  });

  test('the binaries get flags they take', async () => {
    const manifests = await renderVariant(variant);
    const agent = containers(find(manifests, 'DaemonSet', 'retrace-agent'))[0] as Obj;
    const agentFlags = binaryFlags('agent/src/bin/retrace-agent.ts');
    for (const a of args(agent))
      expect([a, agentFlags.has(a.replace(/^--/, '').split('=')[0] as string)]).toEqual([a, true]);
    expect(args(agent)).toContain(`--server=retrace-aggregator.${NS}.svc:7443`);
    const aggregators = kinds(manifests, 'Deployment').filter((d) => containers(d)[0]?.['name'] === 'aggregator');
    const aggFlags = binaryFlags('aggregator/src/server/aggregator-flags.ts');
    const operator = containers(find(manifests, 'Deployment', 'retrace-operator'))[0] as Obj;
    for (const d of aggregators)
      for (const a of args(containers(d)[0] as Obj))
        expect([a, aggFlags.has(a.replace(/^--/, '').split('=')[0] as string)]).toEqual([a, true]);
    const separate = variant === 'aggregator-separate';
    expect(aggregators.length).toBe(separate ? 1 : 0);
    // retrace-operator shares the aggregator's flags; with --aggregator (dial a separate one) it
    // refuses those of an aggregator's own (--store, --listen, ...), so the chart must not pass them.
    const operatorFlags = new Set([...binaryFlags('operator/src/bin/retrace-operator.ts'), ...aggFlags]);
    for (const a of args(operator))
      expect([a, operatorFlags.has(a.replace(/^--/, '').split('=')[0] as string)]).toEqual([a, true]);
    const aggregatorsOwn = new Set<string>(SEPARATE_REFUSED);
    if (separate)
      expect(args(operator).filter((a) => aggregatorsOwn.has(a.replace(/^--/, '').split('=')[0] as string))).toEqual(
        [],
      );
    expect(args(operator)).toEqual(
      expect.arrayContaining(
        separate
          ? [`--aggregator=retrace-aggregator.${NS}.svc:7443`, '--leader-elect']
          : [
              '--listen=0.0.0.0:7443',
              '--store=/var/lib/retrace',
              '--leader-elect',
              '--lease-namespace=$(POD_NAMESPACE)',
            ],
      ),
    );
    // Large numbers reach the flags as integers, not Go's 6.7108864e+07.
    expect(args(agent)).toContain('--max-buffer-bytes=67108864');
    if (separate) expect(args(containers(aggregators[0] as Obj)[0] as Obj)).toContain('--store-cap=10737418240');
  });

  test('the chart renders the CRDs exactly as crds/ has them, unless told not to', async () => {
    const manifests = await renderVariant(variant);
    const crds = kinds(manifests, 'CustomResourceDefinition');
    if (variant === 'no-crds') return expect(crds).toEqual([]);
    const source = readdirSync(join(ROOT, 'crds'))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => parseYaml(readFileSync(join(ROOT, 'crds', f), 'utf8')));
    expect(crds).toEqual(
      source.sort((a, b) =>
        String(obj(obj(a)['metadata'])['name']).localeCompare(String(obj(obj(b)['metadata'])['name'])),
      ),
    );
  });
});

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

describe('values and their schema', () => {
  // That values.yaml and the ci values pass the schema: `helm lint --strict` above.

  test('bad values are refused by helm, naming the value', async () => {
    const bad: [Obj, RegExp][] = [
      [{ tls: { source: 'vault' } }, /at '\/tls\/source': value must be one of 'helm', 'cert-manager', 'existing'/],
      [{ agent: { maxBufferBytes: 'lots' } }, /at '\/agent\/maxBufferBytes': got string, want integer/],
      [{ operator: { replica: 2 } }, /at '\/operator': additional properties 'replica' not allowed/],
      [{ agent: { extraCapabilities: ['ALL'] } }, /at '\/agent\/extraCapabilities\/0': 'not' failed/],
      [{ metrics: { port: 70000 } }, /at '\/metrics\/port': maximum: got 70,000, want 65,535/],
      [{ store: { persistence: { size: 'big' } } }, /at '\/store\/persistence\/size': 'big' does not match pattern/],
      [
        { agent: { appArmorProfile: { type: 'Localhost' } } },
        /at '\/agent\/appArmorProfile\/localhostProfile': minLength: got 0, want 1/,
      ],
    ];
    const results = await Promise.all(
      bad.map(([v]) =>
        render({ values: [v] }).then(
          () => 'rendered',
          (e: Error) => e.message,
        ),
      ),
    );
    bad.forEach(([v, re], i) =>
      expect([JSON.stringify(v), results[i]]).toEqual([
        JSON.stringify(v),
        expect.stringMatching(new RegExp(`values don't meet the specifications of the schema\\(s\\)[^]*${re.source}`)),
      ]),
    );
  });

  test('every value in values.yaml has a comment, and a schema entry', () => {
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
    const stack: { indent: number; key: string }[] = [];
    const missing: string[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.-]*):(.*)$/.exec(line);
      if (!m) return;
      const indent = (m[1] as string).length;
      while (stack.length && (stack[stack.length - 1] as { indent: number }).indent >= indent) stack.pop();
      const path = [...stack.map((s) => s.key), m[2] as string];
      stack.push({ indent, key: m[2] as string });
      // Inside a value the schema describes as one (resources, updateStrategy...), keys are
      // part of that value, documented with it; free-form maps (nodeSelector) likewise.
      const ancestors = path.slice(0, -1).map((_, n) => schemaAt(schema, path.slice(0, n + 1)));
      if (ancestors.some((a) => a === undefined || typeof a['description'] === 'string' || !('properties' in a)))
        return;
      if (schemaAt(schema, path) === undefined) missing.push(`${path.join('.')}: not in values.schema.json`);
      const group = (m[3] as string).trim() === '' && 'properties' in (schemaAt(schema, path) ?? {});
      if (!group && !/^\s*#/.test(lines[i - 1] ?? '')) missing.push(`${path.join('.')}: no comment`);
    });
    expect(missing).toEqual([]);
  });
});

/** The schema of a values path, following $refs; undefined when the schema does not describe it. */
function schemaAt(root: Schema, path: string[]): Obj | undefined {
  let cur: Obj | undefined = obj(root);
  for (const key of path) {
    while (cur && typeof cur['$ref'] === 'string') cur = obj(validateRef(root, cur['$ref']));
    const props: Obj = obj(cur?.['properties']);
    if (!(key in props)) return undefined;
    cur = obj(props[key]);
  }
  while (cur && typeof cur['$ref'] === 'string') cur = obj(validateRef(root, cur['$ref']));
  return cur;
}

function validateRef(root: Schema, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((o, k) => obj(o)[k], root);
}

describe('CRDs', () => {
  const crd = (f: string): Obj => obj(parseYaml(readFileSync(join(ROOT, 'crds', f), 'utf8')));
  const schemaOf = (c: Obj): Obj => obj(obj(obj(arr(obj(c['spec'])['versions'])[0])['schema'])['openAPIV3Schema']);

  test("the chart's copies are identical to crds/ (node helm/retrace/sync-crds.mjs)", () => {
    execFileSync('node', [join(CHART, 'sync-crds.mjs'), '--check']);
  });

  test("ClusterTrace's spec is Trace's plus namespaceSelector; their status is the same", () => {
    const strip = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(strip)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'description')
                .map(([k, e]) => [k, strip(e)]),
            )
          : v;
    const t = schemaOf(crd('trace.yaml'));
    const c = schemaOf(crd('clustertrace.yaml'));
    const tSpec = obj(strip(obj(t['properties'])['spec']));
    const cSpec = obj(strip(obj(c['properties'])['spec']));
    const { namespaceSelector, ...cRest } = obj(cSpec['properties']);
    expect(namespaceSelector).toEqual(obj(tSpec['properties'])['podSelector']);
    expect({ ...cSpec, properties: cRest }).toEqual(tSpec);
    expect(strip(obj(c['properties'])['status'])).toEqual(strip(obj(t['properties'])['status']));
    expect(obj(obj(crd('trace.yaml')['spec'])['names'])['shortNames']).toEqual(['rt']);
    expect(obj(obj(crd('clustertrace.yaml')['spec'])['names'])['shortNames']).toEqual(['crt']);
    expect(obj(crd('clustertrace.yaml')['spec'])['scope']).toBe('Cluster');
  });

  test('the examples pass their CRD schema (structural checks, as the API server makes them)', () => {
    const dir = join(ROOT, 'crds', 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBe(3);
    for (const f of files) {
      const ex = obj(parseYaml(readFileSync(join(dir, f), 'utf8')));
      const schema = toJsonSchema(schemaOf(crd(ex['kind'] === 'Trace' ? 'trace.yaml' : 'clustertrace.yaml')));
      expect([f, validate(schema as Schema, ex)]).toEqual([f, []]);
    }
    // And something wrong is caught.
    const t = toJsonSchema(schemaOf(crd('trace.yaml'))) as Schema;
    expect(
      validate(t, { spec: { collectors: ['skb', 'tcp'], probes: ['nope:x'], duration: '10 minutes', maxEvents: -1 } }),
    ).toEqual([
      '/spec/collectors/1: "tcp" is not one of "skb-tracking", "skb-drop", "skb", "ct", "nft", "ovs", "dev", "ns"',
      '/spec/probes/0: "nope:x" does not match pattern "^(kprobe|kretprobe|tp|raw_tp|tp_btf|fentry|fexit|usdt):\\\\S+$"',
      '/spec/duration: "10 minutes" does not match pattern "^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$"',
      '/spec/maxEvents: -1 is less than 0',
    ]);
    expect(validate(t, { spec: { namespaceSelector: {} } })).toEqual([
      '/spec: additional property "namespaceSelector" is not allowed',
    ]);
  });
});

/** A CRD's structural schema as plain JSON schema: x-kubernetes-* dropped, unknown fields refused. */
function toJsonSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (typeof s !== 'object' || s === null) return s;
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-')) continue;
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(obj(v)).map(([p, e]) => [p, toJsonSchema(e)]))
        : toJsonSchema(v);
  }
  if (
    out['type'] === 'object' &&
    out['properties'] &&
    out['additionalProperties'] === undefined &&
    !('x-kubernetes-preserve-unknown-fields' in obj(s))
  )
    out['additionalProperties'] = false;
  if (out['format'] === 'int64' || out['format'] === 'int32') delete out['format'];
  return out;
}

describe('Dockerfiles', () => {
  const DOCKER = join(ROOT, 'docker');
  const dockerfiles = existsSync(DOCKER) ? readdirSync(DOCKER).filter((f) => f.endsWith('.Dockerfile')) : [];

  test('there is one for the agent and one for the operator', () => {
    expect(dockerfiles.sort()).toEqual(['agent.Dockerfile', 'operator.Dockerfile']);
  });

  test.each(['agent.Dockerfile', 'operator.Dockerfile'])(
    '%s copies files that exist and runs the build steps script',
    (f) => {
      const text = readFileSync(join(DOCKER, f), 'utf8').replace(/\\\n/g, ' ');
      const copies = [...text.matchAll(/^\s*(?:COPY|ADD)\s+(?!--from)((?:--\S+\s+)*)(.+)$/gm)].map((m) => {
        const parts = (m[2] as string).trim().split(/\s+/);
        return parts.slice(0, -1);
      });
      expect(copies.length).toBeGreaterThan(0);
      for (const sources of copies)
        for (const s of sources) {
          if (s.includes('*')) {
            const dir = join(ROOT, s.slice(0, s.lastIndexOf('/') + 1));
            const re = new RegExp(
              `^${s
                .slice(s.lastIndexOf('/') + 1)
                .replace(/\./g, '\\.')
                .replace(/\*/g, '.*')}$`,
            );
            expect([s, readdirSync(dir).some((e) => re.test(e))]).toEqual([s, true]);
          } else expect([s, existsSync(join(ROOT, s))]).toEqual([s, true]);
        }
      // The build stage runs the same script `docker/build-steps.sh` runs without Docker.
      const steps = [...text.matchAll(/docker\/build-steps\.sh (\w+)/g)].filter((m) =>
        /^RUN /m.test(text.slice(text.lastIndexOf('\n', m.index) + 1, m.index)),
      );
      expect(steps.map((m) => m[1])).toEqual(expect.arrayContaining(['deps', 'build', 'stage']));
      const script = readFileSync(join(DOCKER, 'build-steps.sh'), 'utf8');
      for (const m of steps) expect([m[1], new RegExp(`^\\s*${m[1]}\\)`, 'm').test(script)]).toEqual([m[1], true]);
      // npm ci needs every workspace's package.json: each is copied before it.
      const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
        .workspaces;
      const beforeDeps = text.slice(0, text.indexOf('build-steps.sh deps'));
      for (const ws of workspaces) expect([ws, beforeDeps.includes(`COPY ${ws}/package.json`)]).toEqual([ws, true]);
      // The runtime's entrypoint names a binary the build made.
      const bins = [...text.matchAll(/ENTRYPOINT \["([^"]+)"/g)].map((m) => m[1]);
      expect(bins.length).toBe(1);
    },
  );
});
