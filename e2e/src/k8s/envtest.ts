// A real etcd and kube-apiserver for tests (e2e/k8s/apiserver.sh), as controller-runtime's envtest
// runs them: no node, no kubelet, so tests make Nodes and Pods through the API. sharedApiServer()
// starts one per jest run on first use (e2e/jest/global-teardown.js stops it).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { RestClient } from './rest.js';

const execFileAsync = promisify(execFile);

export const APISERVER_SCRIPT = fileURLToPath(new URL('../../k8s/apiserver.sh', import.meta.url));

/** Where e2e/k8s/lib/binaries.sh puts the binaries it builds (etcd, kube-apiserver, kubectl, helm). */
export const K8S_BINARIES = join(process.env.RETRACE_K8S_CACHE ?? '/var/cache/retrace-k8s', 'bin');

/** Where the run's shared server lives: set by e2e/jest/global-setup.js, which its teardown reads too. */
export const SHARED_DIR_ENV = 'RETRACE_ENVTEST_DIR';

/** The API server could not be started or stopped; the message names the component and its log. */
export class ApiServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiServerError';
  }
}

/** A way in: a kubeconfig file (for child processes) and the same as a client-node KubeConfig. */
export interface ClientConfig {
  kubeconfig: string;
  kubeConfig(): KubeConfig;
}

/** A ServiceAccount's request as the audit log records it (every ServiceAccount request, Metadata level). */
export interface AuditRecord {
  user: { username: string; groups?: string[] };
  verb: string;
  requestURI: string;
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number; reason?: string; message?: string };
  stage: string;
}

export interface TestApiServer extends ClientConfig {
  /** State, PKI and logs (DIR/logs/{etcd,apiserver,audit}.log). */
  readonly dir: string;
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The admin (system:masters) as a REST client. */
  rest(): RestClient;
  /** A client certificate for `user` in `groups`, signed by the server's CA: what RBAC grants them. */
  userConfig(user: string, groups?: string[]): ClientConfig;
  /** A token of the ServiceAccount (TokenRequest, as a Pod of it gets one); it must exist. */
  serviceAccountConfig(namespace: string, name: string): Promise<ClientConfig>;
  /** The ServiceAccounts' requests so far, answered (ResponseComplete). */
  auditRecords(): AuditRecord[];
  stop(): Promise<void>;
}

function loadConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const clientConfig = (kubeconfig: string): ClientConfig => ({ kubeconfig, kubeConfig: () => loadConfig(kubeconfig) });

class ApiServer implements TestApiServer {
  readonly kubeconfig: string;
  readonly url: string;
  private users = 0;

  constructor(readonly dir: string) {
    this.kubeconfig = join(dir, 'kubeconfig');
    this.url = loadConfig(this.kubeconfig).getCurrentCluster()?.server ?? '';
  }

  kubeConfig(): KubeConfig {
    return loadConfig(this.kubeconfig);
  }

  rest(): RestClient {
    return new RestClient(this.kubeConfig());
  }

  userConfig(user: string, groups: string[] = []): ClientConfig {
    const dir = join(this.dir, 'users');
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `user-${++this.users}`);
    const pki = join(this.dir, 'pki');
    const subject = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join('');
    const openssl = (args: string[]): void => {
      try {
        execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        throw new ApiServerError(
          `openssl ${args[0]} for user ${user} failed: ${String((e as { stderr?: unknown }).stderr)}`,
        );
      }
    };
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`];
    openssl(['req', '-new', ...key, '-subj', subject, '-out', `${base}.csr`]);
    writeFileSync(`${base}.ext`, 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n');
    const ca = ['-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAserial', `${base}.srl`];
    const out = ['-CAcreateserial', '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.crt`];
    openssl(['x509', '-req', '-in', `${base}.csr`, ...ca, ...out]);
    return this.writeConfig(`${base}.kubeconfig`, user, {
      'client-certificate': `${base}.crt`,
      'client-key': `${base}.key`,
    });
  }

  async serviceAccountConfig(namespace: string, name: string): Promise<ClientConfig> {
    const r = await this.rest().request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    const dir = join(this.dir, 'users');
    mkdirSync(dir, { recursive: true });
    const user = `system:serviceaccount:${namespace}:${name}`;
    return this.writeConfig(join(dir, `sa-${namespace}-${name}.kubeconfig`), user, { token: r.status.token });
  }

  private writeConfig(path: string, user: string, credentials: Record<string, string>): ClientConfig {
    const ca = join(this.dir, 'pki', 'ca.crt');
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'envtest', cluster: { 'certificate-authority': ca, server: this.url } }],
        users: [{ name: user, user: credentials }],
        contexts: [{ name: 'envtest', context: { cluster: 'envtest', user } }],
        'current-context': 'envtest',
      }),
      { mode: 0o600 },
    );
    return clientConfig(path);
  }

  auditRecords(): AuditRecord[] {
    const path = join(this.dir, 'logs', 'audit.log');
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AuditRecord)
      .filter((r) => r.stage === 'ResponseComplete');
  }

  async stop(): Promise<void> {
    if (shared && this.dir === sharedDir()) shared = undefined;
    await script('stop', this.dir);
  }
}

async function script(verb: 'start' | 'stop', dir: string): Promise<string> {
  try {
    return (await execFileAsync(APISERVER_SCRIPT, [verb, dir], { encoding: 'utf8' })).stdout;
  } catch (e) {
    const said = String((e as { stderr?: unknown }).stderr ?? (e as Error).message).trim();
    throw new ApiServerError(`\`${APISERVER_SCRIPT} ${verb} ${dir}\` failed:\n${said}`);
  }
}

function pidAlive(pidFile: string): boolean {
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

let privateServers = 0;

/** A server of its own (a few seconds to start); the caller stops it. */
export async function startApiServer(): Promise<TestApiServer> {
  const dir = join(tmpdir(), `retrace-envtest-${process.pid}-${++privateServers}`);
  await script('start', dir);
  return new ApiServer(dir);
}

export function sharedDir(): string {
  return process.env[SHARED_DIR_ENV] ?? join(tmpdir(), `retrace-envtest-${process.pid}`);
}

let shared: Promise<TestApiServer> | undefined;

/**
 * The run's server, started on first use and kept for the next test files (jest runs them one
 * after another in this process); tests keep to their own namespaces and names, and remove what
 * they made.
 */
export function sharedApiServer(): Promise<TestApiServer> {
  const dir = sharedDir();
  // Each test file has its own module registry: a server started by an earlier file is found on disk.
  if (existsSync(join(dir, 'kubeconfig')) && pidAlive(join(dir, 'run', 'apiserver.pid')))
    return Promise.resolve(new ApiServer(dir));
  shared ??= script('start', dir).then(
    () => new ApiServer(dir),
    (e: unknown) => {
      shared = undefined;
      throw e;
    },
  );
  return shared;
}
