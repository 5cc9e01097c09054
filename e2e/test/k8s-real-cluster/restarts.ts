// Pods deleted under a running trace: the agent's (its programs go with it, the gap is reported)
// and the operator's (leadership moves through the Lease).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bpfProgramIds, programsOfPid } from '../../src/k8s/bpf-programs.js';
import { REPO_ROOT, clusterRun } from '../../src/k8s/real-cluster.js';
import { waitForValue } from '../../src/lab/wait.js';
import { NS, type ClusterSession } from '../../src/k8s/cluster-session.js';

/**
 * The agent pod deleted: the DaemonSet restarts it, the trace resumes with the gap reported, the old
 * programs are gone.
 */
export async function agentPodDeleted(run: ClusterSession): Promise<void> {
  const agentPod = async (): Promise<{ name: string; pid: number }> => {
    const p = JSON.parse(
      await run.k(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=agent', '-o', 'json']),
    ) as {
      items: {
        metadata: { name: string; deletionTimestamp?: string };
        status: { containerStatuses?: { ready: boolean; containerID?: string }[] };
      }[];
    };
    const live = p.items.find((i) => !i.metadata.deletionTimestamp && i.status.containerStatuses?.[0]?.ready);
    if (!live) throw new Error('no Ready agent pod');
    const id = (live.status.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
    // The container's main process, from the runtime (its PID in the host namespace).
    const state = JSON.parse(
      execFileSync('runc', ['--root', '/run/containerd/runc/k8s.io', 'state', id], { encoding: 'utf8' }),
    ) as { pid: number };
    return { name: live.metadata.name, pid: state.pid };
  };
  const before = await agentPod();
  const held = programsOfPid(before.pid);
  expect(held.length).toBeGreaterThan(0);
  run.agentPrograms.push(...held);

  await run.k(['delete', 'pod', '-n', NS, before.name, '--wait']);
  const after = await waitForValue(
    async () => {
      try {
        const p = await agentPod();
        return p.name !== before.name ? p : undefined;
      } catch {
        return undefined;
      }
    },
    'a new Ready agent pod',
    180_000,
    1000,
  );
  const ids = bpfProgramIds();
  expect(held.filter((id) => ids.has(id))).toEqual([]);
  const now = await waitForValue(
    () => {
      const p = programsOfPid(after.pid);
      return p.length > 0 ? p : undefined;
    },
    'the new agent holding its programs',
    120_000,
    1000,
  );
  run.agentPrograms.push(...now);

  const s = await run.untilStatus(
    'trace',
    'drops-a',
    'team-a',
    'drops-a running again',
    (x) => x.nodes?.[0]?.state === 'running',
  );
  const trace = s.results?.trace ?? 'team-a/drops-a';
  const summary = await clusterRun(run.c, process.execPath, [
    join(REPO_ROOT, 'cli/dist/bin/retrace.js'),
    'summary',
    trace,
    ...run.aggregatorArgs().filter((a, i, all) => a !== '--tls-secret' && all[i - 1] !== '--tls-secret'),
    ...(await run.serverTlsFiles()),
  ]);
  expect(summary).toMatch(/gap: /);
}

/** The operator pod deleted: leadership moves through the Lease, no trace is lost. */
export async function operatorPodDeleted(run: ClusterSession): Promise<void> {
  const lease = async (): Promise<string> =>
    (await run.k(['get', 'lease', '-n', NS, '-o', 'jsonpath={.items[0].spec.holderIdentity}'])).trim();
  const holder = await lease();
  expect(holder).not.toBe('');
  await run.k(['delete', 'pod', '-n', NS, '-l', 'app.kubernetes.io/component=operator', '--wait']);
  const next = await waitForValue(
    async () => {
      const h = await lease().catch(() => '');
      return h && h !== holder ? h : undefined;
    },
    'a new lease holder',
    180_000,
    1000,
  );
  expect(next).not.toBe(holder);
  // The aggregator ran in the old pod: the agent finds the new one behind the Service.
  await run.untilStatus('trace', 'drops-a', 'team-a', 'drops-a running again', (s) => s.phase === 'Running', 240_000);
  await run.untilStatus(
    'clustertrace',
    'drops-all',
    undefined,
    'drops-all running again',
    (s) => s.phase === 'Running',
  );
}
