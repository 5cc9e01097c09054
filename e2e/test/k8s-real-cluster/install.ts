// The install: helm install --wait from the local images, then test pods in two namespaces.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { REPO_ROOT, helm } from '../../src/k8s/real-cluster.js';
import { NS, RELEASE, TESTPOD, type ClusterSession } from '../../src/k8s/cluster-session.js';

/** helm install --wait: the operator and the agents become Ready from the local images. */
export async function helmInstall(run: ClusterSession): Promise<void> {
  run.installedAt = new Date().toISOString();
  const out = await helm(run.c, [
    'install',
    RELEASE,
    join(REPO_ROOT, 'helm/retrace'),
    '-n',
    NS,
    '--create-namespace',
    '--wait',
    '--timeout',
    '5m',
  ]);
  expect(out).toMatch(/^STATUS: deployed$/m);
  const ds = JSON.parse(await run.k(['get', 'daemonset', '-n', NS, `${RELEASE}-agent`, '-o', 'json'])) as {
    status: { numberReady: number; desiredNumberScheduled: number };
  };
  expect(ds.status.numberReady).toBe(ds.status.desiredNumberScheduled);
  expect(ds.status.numberReady).toBe(1);
  // The node's agent has a certificate of its own node, which the aggregator requires
  // (--agent-certs=bound): it could not be Ready (connected) without it.
  const nodes = JSON.parse(await run.k(['get', 'secret', '-n', NS, `${RELEASE}-agent-nodes`, '-o', 'json'])) as {
    data: Record<string, string>;
  };
  const own = new X509Certificate(Buffer.from(nodes.data[`${run.c.node}.crt`] ?? '', 'base64'));
  expect(own.subjectAltName).toBe(`DNS:${run.c.node}.nodes.retrace`);
  // The images run the Node.js LTS they ship, not the machine's.
  const version = await run.k(['exec', '-n', NS, `ds/${RELEASE}-agent`, '--', 'node', '--version']);
  expect(version.trim()).toMatch(/^v24\./);
}

/** Test pods in two namespaces (their addresses kept in the session); the CRDs as kubectl shows them. */
export async function testPods(run: ClusterSession): Promise<void> {
  const pod = (ns: string, name: string): object => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TESTPOD, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
    },
  });
  for (const ns of ['team-a', 'team-b']) await run.k(['create', 'namespace', ns]);
  await run.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        pod('team-a', 'client-a'),
        pod('team-a', 'server-a'),
        pod('team-b', 'client-b'),
        pod('team-b', 'server-b'),
      ],
    }),
  );
  for (const [ns, names] of [
    ['team-a', ['client-a', 'server-a']],
    ['team-b', ['client-b', 'server-b']],
  ] as const) {
    await run.k(['wait', '-n', ns, '--for=condition=Ready', ...names.map((n) => `pod/${n}`), '--timeout=120s']);
    for (const n of names)
      run.podIp[n] = (await run.k(['get', 'pod', '-n', ns, n, '-o', 'jsonpath={.status.podIP}'])).trim();
  }
  expect(run.podIp['server-a']).toMatch(/^10\.244\./);

  const explained = await run.k(['explain', 'trace.spec']);
  expect(explained).toMatch(/^KIND:\s+Trace$/m);
  expect(explained).toContain('packetFilter');
}
