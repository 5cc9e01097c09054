// The chart (helm/retrace), rendered by the real helm (`helm template`, the binary e2e/k8s/cluster.sh
// builds) for its default values and the main alternatives (helm/retrace/ci/*.yaml), linted with
// `helm lint --strict`, and checked for each: Kubernetes shapes, workloads that hold together, the
// agent's privileges, flags the binaries take, CRDs equal to crds/. The chart's specific settings
// are in helm-chart-specifics.test.ts, its values schema in helm-values.test.ts.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { helmLint } from '../src/chart/helm.js';
import { checkShape } from '../src/chart/k8s-shapes.js';
import { parseYaml } from '../src/chart/manifests.js';
import { SEPARATE_REFUSED } from '@retrace/aggregator';
import {
  CHART,
  NS,
  ROOT,
  VARIANTS,
  arr,
  args,
  binaryFlags,
  containers,
  find,
  kinds,
  obj,
  podSpec,
  renderVariant,
  variantValues,
  type Obj,
} from '../src/chart/renders.js';

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
    const agentFlags = binaryFlags('agent/dist/bin/retrace-agent.js');
    for (const a of args(agent))
      expect([a, agentFlags.has(a.replace(/^--/, '').split('=')[0] as string)]).toEqual([a, true]);
    expect(args(agent)).toContain(`--server=retrace-aggregator.${NS}.svc:7443`);
    const aggregators = kinds(manifests, 'Deployment').filter((d) => containers(d)[0]?.['name'] === 'aggregator');
    const aggFlags = binaryFlags('aggregator/dist/bin/retrace-aggregator.js');
    const operator = containers(find(manifests, 'Deployment', 'retrace-operator'))[0] as Obj;
    for (const d of aggregators)
      for (const a of args(containers(d)[0] as Obj))
        expect([a, aggFlags.has(a.replace(/^--/, '').split('=')[0] as string)]).toEqual([a, true]);
    const separate = variant === 'aggregator-separate';
    expect(aggregators.length).toBe(separate ? 1 : 0);
    // retrace-operator shares the aggregator's flags; with --aggregator (dial a separate one) it
    // refuses those of an aggregator's own (--store, --listen, ...), so the chart must not pass them.
    const operatorFlags = binaryFlags('operator/dist/bin/retrace-operator.js');
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
