// Benchmark on the real single-node cluster (e2e/k8s/cluster.sh), each as a ratio to a baseline
// measured in the same run on the same cluster:
//  - `helm install --wait` of the chart until the operator and the agents are Ready, against a
//    one-container Deployment of the test pod image reaching Available;
//  - `kubectl apply` of a ClusterTrace until its status says probes are attached on the node (goal under
//    5 s), against `kubectl apply` of a ConfigMap until it can be read back.
// The release, the trace and the baseline objects are removed afterwards; the cluster stays up if
// it was up before (else it is taken down again).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { clusterDown, clusterUp, helm, kubectl, REPO_ROOT, type RealCluster } from '../k8s/real-cluster.js';

const NS = 'retrace-bench';
const RUNS = Number(process.env['RETRACE_BENCH_RUNS'] ?? 2);

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = Date.now();
  await f();
  return Date.now() - t;
}

async function until(what: string, f: () => Promise<boolean>, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Run {
  install: number;
  baseline: number;
  apply: number;
  cm: number;
}

async function installOnce(c: RealCluster): Promise<Run> {
  const tag = (parse(readFileSync(join(REPO_ROOT, 'helm/retrace/Chart.yaml'), 'utf8')) as { appVersion: string })
    .appVersion;
  const baseline = await timed(async () => {
    await kubectl(c, ['create', 'deployment', 'baseline', '-n', NS, `--image=retrace/testpod:${tag}`]);
    await kubectl(c, ['rollout', 'status', '-n', NS, 'deployment/baseline', '--timeout=300s']);
  });
  await kubectl(c, ['delete', 'deployment', 'baseline', '-n', NS, '--wait']);
  const install = await timed(() =>
    helm(c, ['install', 'retrace', join(REPO_ROOT, 'helm/retrace'), '-n', NS, '--wait', '--timeout', '5m']),
  );
  const cm = await timed(async () => {
    await kubectl(c, ['create', 'configmap', 'baseline', '-n', NS, '--from-literal=a=b']);
    await until('the ConfigMap', async () => (await kubectl(c, ['get', 'configmap', 'baseline', '-n', NS])) !== '');
  });
  const trace = JSON.stringify({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'ClusterTrace',
    metadata: { name: 'bench' },
    spec: { collectors: ['skb-tracking', 'skb', 'skb-drop'], packetFilter: 'tcp port 7777', duration: '5m' },
  });
  const apply = await timed(async () => {
    await kubectl(c, ['apply', '-f', '-'], trace);
    await until('probes attached on the node', async () => {
      const s = JSON.parse(await kubectl(c, ['get', 'clustertrace', 'bench', '-o', 'json'])) as {
        status?: { nodes?: { probesAttached?: number }[] };
      };
      return (s.status?.nodes?.[0]?.probesAttached ?? 0) > 0;
    });
  });
  await kubectl(c, ['delete', 'clustertrace', 'bench', '--wait']);
  await kubectl(c, ['delete', 'configmap', 'baseline', '-n', NS]);
  await helm(c, ['uninstall', 'retrace', '-n', NS, '--wait']);
  return { install, baseline, apply, cm };
}

async function main(): Promise<void> {
  const wasUp = existsSync('/run/retrace-k8s/apiserver.pid');
  const c = clusterUp();
  try {
    await kubectl(c, ['create', 'namespace', NS]);
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await installOnce(c));
    const best = (k: 'install' | 'baseline' | 'apply' | 'cm'): number => Math.min(...runs.map((r) => r[k]));
    console.log(`\nreal cluster (single node, ${runs.length} runs, best of each)`);
    console.log(`  baseline: Deployment of the test image to Available   ${seconds(best('baseline'))} s`);
    console.log(
      `  helm install --wait to Ready (operator, agents)        ${seconds(best('install'))} s  ${(best('install') / best('baseline')).toFixed(2)}x baseline`,
    );
    console.log(`  baseline: kubectl apply of a ConfigMap, read back       ${seconds(best('cm'))} s`);
    const apply = best('apply');
    console.log(
      `  kubectl apply of a ClusterTrace to probes attached       ${seconds(apply)} s  ${(apply / best('cm')).toFixed(1)}x baseline  goal < 5 s: ${apply < 5000 ? 'met' : 'missed'}`,
    );
  } finally {
    await kubectl(c, ['delete', 'namespace', NS, '--wait']).catch(() => '');
    if (!wasUp) clusterDown();
  }
}

await main();
