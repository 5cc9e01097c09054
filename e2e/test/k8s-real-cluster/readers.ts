// Readers: users known only by a token read what Kubernetes' view role lets them get.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { clusterRun } from '../../src/k8s/real-cluster.js';
import { NS, RELEASE, parseJourneys, podsIn, type ClusterSession } from '../../src/k8s/cluster-session.js';

/**
 * Two users: each reads the journeys of the Traces Kubernetes' view role gives them, with nothing but
 * a token in their kubeconfig.
 */
export async function twoUsers(run: ClusterSession): Promise<void> {
  // alice views team-a, bob views team-b (the chart aggregates traces into view); each has a
  // kubeconfig with only a ServiceAccount token, as an OIDC or cloud user would.
  const kubeconfigFor = async (user: string, ns: string): Promise<string> => {
    await run.k(['create', 'serviceaccount', user, '-n', ns]);
    await run.k([
      'create',
      'rolebinding',
      `${user}-view`,
      '--clusterrole=view',
      `--serviceaccount=${ns}:${user}`,
      '-n',
      ns,
    ]);
    const token = (await run.k(['create', 'token', user, '-n', ns, '--duration=1h'])).trim();
    const file = join(run.tmp, `${user}.kubeconfig`);
    const admin = parse(readFileSync(run.c.kubeconfig, 'utf8')) as { clusters: unknown[] };
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        users: [{ name: user, user: { token } }],
        contexts: [{ name: user, context: { cluster: (admin.clusters[0] as { name: string }).name, user } }],
        'current-context': user,
      }),
      { mode: 0o600 },
    );
    return file;
  };
  const alice = await kubeconfigFor('alice', 'team-a');
  const bob = await kubeconfigFor('bob', 'team-b');
  // The CA from the ConfigMap every authenticated user may read; no certificate, no Secret.
  const as = (kubeconfig: string, args: string[]): Promise<string> =>
    run.plugin([
      ...args,
      '--kubeconfig',
      kubeconfig,
      '--server',
      `127.0.0.1:${run.forward?.port ?? 0}`,
      '--tls-server-name',
      `${RELEASE}-aggregator.${NS}.svc`,
      '--ca-configmap',
      `${NS}/${RELEASE}-ca`,
    ]);
  const refusal = (p: Promise<string>): Promise<string> =>
    p.then(
      (out) => `answered: ${out.slice(0, 200)}`,
      (e: Error) => e.message,
    );

  // alice: her namespace's Trace, journeys and all.
  const mine = await as(alice, ['events', 'drops-a', '-n', 'team-a', '-o', '-']);
  const js = parseJourneys(mine);
  expect(podsIn(js)).toContain('team-a/server-a');
  // Not the ClusterTrace: view gives no clustertraces.
  expect(await refusal(as(alice, ['events', 'drops-all', '--cluster']))).toMatch(
    /system:serviceaccount:team-a:alice .*may not get clustertraces\.retrace\.dev drops-all/,
  );
  // bob: the aggregator refuses him team-a's Trace, as the Kubernetes API does.
  expect(await refusal(as(bob, ['events', 'drops-a', '-n', 'team-a', '-o', '-']))).toMatch(
    /system:serviceaccount:team-b:bob \(from the bearer token\) may not get traces\.retrace\.dev drops-a in namespace team-a/,
  );
  expect(
    await refusal(clusterRun(run.c, 'kubectl', ['retrace', 'get', 'drops-a', '-n', 'team-a', '--kubeconfig', bob])),
  ).toMatch(/forbidden/i);
  // And alice may read what she may get: the same answer from the API server.
  expect(
    await clusterRun(run.c, 'kubectl', [
      '--kubeconfig',
      alice,
      'auth',
      'can-i',
      'get',
      'traces.retrace.dev',
      '-n',
      'team-a',
    ]),
  ).toMatch(/^yes/);
  // The cluster admin's kubeconfig holds a client certificate, which the aggregator cannot
  // check: refused, saying how to be known.
  expect(await refusal(as(run.c.kubeconfig, ['events', 'team-a/drops-a']))).toMatch(
    /no bearer token and no client certificate.*sends no bearer token .*RETRACE_TOKEN=\$\(kubectl create token/,
  );
}
