// The real single-node Kubernetes of e2e/k8s/cluster.sh, driven the way a user drives it: the
// real kubectl and helm binaries (built by cluster.sh) against its real API server.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CommandError } from '../lab/exec.js';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CLUSTER_SCRIPT = join(REPO_ROOT, 'e2e', 'k8s', 'cluster.sh');

/** Where cluster.sh keeps the binaries it built, and the cluster's state. */
export const K8S_BIN = process.env.RETRACE_K8S_CACHE
  ? join(process.env.RETRACE_K8S_CACHE, 'bin')
  : '/var/cache/retrace-k8s/bin';
export const K8S_STATE = process.env.RETRACE_K8S_STATE ?? '/var/lib/retrace-k8s';

export interface RealCluster {
  kubeconfig: string;
  /** The environment for kubectl, helm and kubectl plugins: KUBECONFIG, and the built binaries first on PATH. */
  env: NodeJS.ProcessEnv;
  node: string;
}

/** Starts the cluster (building what is missing) and returns how to reach it. */
export function clusterUp(): RealCluster {
  const out = execFileSync(CLUSTER_SCRIPT, ['up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const kubeconfig = /^export KUBECONFIG=(\S+)$/m.exec(out)?.[1];
  if (!kubeconfig) throw new Error(`cluster.sh up printed no KUBECONFIG:\n${out}`);
  const env = { ...process.env, KUBECONFIG: kubeconfig, PATH: `${K8S_BIN}:${process.env.PATH ?? ''}` };
  const node = execFileSync(join(K8S_BIN, 'kubectl'), ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'], {
    env,
    encoding: 'utf8',
  }).trim();
  return { kubeconfig, env, node };
}

export function clusterDown(): void {
  execFileSync(CLUSTER_SCRIPT, ['down'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Runs a binary of the cluster (kubectl, helm) or any command with the cluster's environment. */
export async function clusterRun(c: RealCluster, cmd: string, args: string[], input?: string): Promise<string> {
  const bin = cmd === 'kubectl' || cmd === 'helm' ? join(K8S_BIN, cmd) : cmd;
  try {
    if (input === undefined) {
      const r = await execFileAsync(bin, args, { env: c.env, encoding: 'utf8', maxBuffer: 1 << 28 });
      return r.stdout;
    }
    return execFileSync(bin, args, { env: c.env, encoding: 'utf8', input, maxBuffer: 1 << 28, stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: number; status?: number; stdout?: string | Buffer; stderr?: string | Buffer };
    const said = `${String(err.stderr ?? '')}${String(err.stdout ?? '')}`;
    throw new CommandError([cmd, ...args], err.status ?? err.code ?? null, said);
  }
}

export const kubectl = (c: RealCluster, args: string[], input?: string): Promise<string> =>
  clusterRun(c, 'kubectl', args, input);
export const helm = (c: RealCluster, args: string[]): Promise<string> => clusterRun(c, 'helm', args);

/** `kubectl port-forward` to a Service, on a local port; kill() ends it. */
export async function portForward(
  c: RealCluster,
  namespace: string,
  target: string,
  remotePort: number,
): Promise<{ port: number; kill: () => void }> {
  const child: ChildProcess = spawn(
    join(K8S_BIN, 'kubectl'),
    ['port-forward', '-n', namespace, target, `:${remotePort}`, '--address', '127.0.0.1'],
    { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let said = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`port-forward to ${target} said nothing in 20 s: ${said}`)),
      20_000,
    );
    const onData = (d: Buffer): void => {
      said += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(said);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward to ${target} exited ${code}: ${said}`));
    });
  });
  return { port, kill: () => child.kill() };
}

/** The API server's audit records (e2e/k8s/manifests/audit-policy.yaml: every ServiceAccount request). */
export interface AuditRecord {
  user: { username: string };
  verb: string;
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  stage: string;
  /** RFC 3339 with microseconds: compares as a string. */
  requestReceivedTimestamp: string;
}

export function auditRecords(): AuditRecord[] {
  const text = readFileSync(join(K8S_STATE, 'logs', 'audit.log'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditRecord)
    .filter((r) => r.stage === 'ResponseComplete');
}
