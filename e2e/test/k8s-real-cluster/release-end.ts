// The release's later life: an upgrade, the RBAC it used, the plugin, and the uninstall that
// leaves nothing of ours in the kernel.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bpfProgramIds } from '../../src/k8s/bpf-programs.js';
import { REPO_ROOT, auditRecords, clusterRun, helm, portForward } from '../../src/k8s/real-cluster.js';
import { waitForValue } from '../../src/lab/wait.js';
import { NS, RELEASE, type ClusterSession } from '../../src/k8s/cluster-session.js';

/** helm upgrade with tls.extraServerNames reissues the server certificate with the new names. */
export async function helmUpgrade(run: ClusterSession): Promise<void> {
  const sans = async (): Promise<string> => {
    const b64 = await run.k(['get', 'secret', '-n', NS, `${RELEASE}-server-tls`, '-o', 'jsonpath={.data.tls\\.crt}']);
    return execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], {
      input: Buffer.from(b64, 'base64'),
      encoding: 'utf8',
    });
  };
  expect(await sans()).not.toContain('retrace.example.test');
  await helm(run.c, [
    'upgrade',
    RELEASE,
    join(REPO_ROOT, 'helm/retrace'),
    '-n',
    NS,
    '--reuse-values',
    '--set',
    'tls.extraServerNames={retrace.example.test}',
    '--wait',
    '--timeout',
    '5m',
  ]);
  const names = await sans();
  expect(names).toContain('DNS:retrace.example.test');
  expect(names).toContain(`DNS:${RELEASE}-aggregator.${NS}.svc`);
  // The new certificate is served: the agents reconnect and the trace goes on.
  run.forward?.kill();
  run.forward = await portForward(run.c, NS, `svc/${RELEASE}-aggregator`, 7443);
  await run.untilStatus(
    'trace',
    'drops-a',
    'team-a',
    'drops-a running after the upgrade',
    (s) => s.nodes?.[0]?.state === 'running',
    300_000,
  );
}

/**
 * The chart's RBAC is what the API server needs: nothing refused, nothing unused, only the operator
 * calls.
 */
export async function rbacAsUsed(run: ClusterSession): Promise<void> {
  const operatorSa = `system:serviceaccount:${NS}:${RELEASE}-operator`;
  // This run's calls while the release was installed (the log keeps earlier runs; after an
  // uninstall the operator's Role is gone before the operator is).
  const calls = auditRecords().filter(
    (r) => r.user.username.startsWith(`system:serviceaccount:${NS}:`) && r.requestReceivedTimestamp >= run.installedAt,
  );
  const refused = calls.filter((r) => r.responseStatus?.code === 403);
  expect(refused.map((r) => `${r.user.username} ${r.verb} ${r.objectRef?.resource}`)).toEqual([]);
  // Only the operator calls the API (agents and the aggregator have no token).
  expect([...new Set(calls.map((r) => r.user.username))]).toEqual([operatorSa]);
  const used = new Set(
    calls.map(
      (r) =>
        `${r.objectRef?.apiGroup ?? ''}/${r.objectRef?.resource ?? ''}${r.objectRef?.subresource ? `/${r.objectRef.subresource}` : ''}:${r.verb}`,
    ),
  );
  const roles = JSON.parse(
    await run.k([
      'get',
      'clusterroles,roles',
      '-A',
      '-l',
      `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`,
      '-o',
      'json',
    ]),
  ) as { items: { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }[] };
  const granted = roles.items.flatMap((role) =>
    role.rules.flatMap((rule) =>
      rule.apiGroups.flatMap((g) => rule.resources.flatMap((res) => rule.verbs.map((v) => `${g}/${res}:${v}`))),
    ),
  );
  expect(granted.length).toBeGreaterThan(0);
  // Every grant served a call of this run: nothing granted unused.
  expect(granted.filter((g) => !used.has(g))).toEqual([]);
  expect([...used].filter((u) => u.startsWith('retrace.dev/')).length).toBeGreaterThan(0);
}

/** The kubectl plugin: installed by one command (start()), kubectl plugin list finds it. */
export async function pluginListed(run: ClusterSession): Promise<void> {
  const list = await clusterRun(run.c, 'kubectl', ['plugin', 'list']);
  expect(list).toContain(join(run.prefix, 'bin', 'kubectl-retrace'));
  expect(await run.plugin(['get', '-A'])).toMatch(/drops-a/);
}

/** helm uninstall: no program, link or nft table of ours is left; the CRDs stay, as documented. */
export async function helmUninstall(run: ClusterSession): Promise<void> {
  // Traces first, while the operator runs: it releases their results (its finalizer).
  await run.k(['delete', 'clustertraces,traces', '-A', '--all', '--wait', '--timeout=120s']);
  await run.k(['delete', 'namespace', 'team-a', 'team-b', '--wait']);
  await helm(run.c, ['uninstall', RELEASE, '-n', NS, '--wait']);
  await waitForValue(
    async () => (await run.k(['get', 'pods', '-n', NS, '-o', 'name'])).trim() === '',
    'the release pods gone',
    120_000,
    1000,
  );
  expect(run.agentPrograms.length).toBeGreaterThan(0);
  const ids = bpfProgramIds();
  expect(run.agentPrograms.filter((id) => ids.has(id))).toEqual([]);
  expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toMatch(/retrace/);
  expect(await run.k(['get', 'crd', 'traces.retrace.dev', '-o', 'name'])).toMatch(/traces\.retrace\.dev/);
}
