// FakeApiServer: the HTTP server, its kubeconfig, and test helpers over the same storage logic.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { builtinTypes } from './builtins.js';
import { handle, type HttpContext, type RequestRecord } from './http.js';
import type { KubeObject } from './json.js';
import { StatusError } from './errors.js';
import { Registry, splitApiVersion, type Target } from './resource-type.js';
import { Store } from './store.js';

export interface StartOptions {
  /** How often watches with allowWatchBookmarks=true get a BOOKMARK (default 1000). */
  bookmarkIntervalMs?: number;
  /** Events kept per resource for watches from a resourceVersion (default 1000). */
  watchCacheSize?: number;
}

/** A test helper named an apiVersion/kind that is not served (yet). */
export class UnknownKindError extends Error {
  override name = 'UnknownKindError';
  constructor(apiVersion: string, kind: string) {
    super(
      `kube-fake serves no kind ${kind} in ${apiVersion}: apply its CustomResourceDefinition first, or check the spelling`,
    );
  }
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export class FakeApiServer {
  /** Every API call made, in order. */
  readonly requests: RequestRecord[] = [];
  readonly url: string;
  private readonly store: Store;

  private constructor(
    private readonly http: Server,
    private readonly token: string,
    registry: Registry,
    opts: StartOptions,
  ) {
    const { port } = http.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.store = new Store(registry, opts.watchCacheSize ?? 1000);
    const ctx: HttpContext = {
      store: this.store,
      registry,
      token,
      requests: this.requests,
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
      address: `127.0.0.1:${port}`,
    };
    http.on('request', (req, res) => void handle(ctx, req, res));
  }

  static async start(opts: StartOptions = {}): Promise<FakeApiServer> {
    const registry = new Registry();
    builtinTypes().forEach((rt) => registry.add(rt));
    const http = createServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', resolve);
    });
    const server = new FakeApiServer(http, randomBytes(16).toString('hex'), registry, opts);
    for (const name of SYSTEM_NAMESPACES) server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return server;
  }

  /** A kubeconfig (cluster "fake", a bearer-token user, current-context set) for this server. */
  kubeConfig(): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain http unless TLS verification is (trivially) switched off.
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
      'current-context': 'fake',
    });
  }

  /** Writes the kubeconfig to `dir/kubeconfig` (for KUBECONFIG of child processes); returns its path. */
  writeKubeConfig(dir: string): string {
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, this.kubeConfig(), { mode: 0o600 });
    return path;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  private target(apiVersion: string, kind: string, ns?: string, name?: string): Target {
    const [group, version] = splitApiVersion(apiVersion);
    const rt = this.store.registry.byKind(group, version, kind);
    if (!rt) throw new UnknownKindError(apiVersion, kind);
    return { rt, version, ns: rt.namespaced ? ns : undefined, name };
  }

  /**
   * Creates or replaces `obj` (namespace defaults to "default"), then writes its status through
   * the status subresource when it has one: what a controller and a kubelet would do together.
   * Throws the StatusError the API server would answer with.
   */
  apply(obj: KubeObject): KubeObject {
    const { apiVersion = '', kind = '', metadata } = obj;
    const t = this.target(apiVersion, kind, metadata.namespace ?? 'default', metadata.name);
    const old = t.name ? this.get(apiVersion, kind, t.ns, t.name) : undefined;
    const body = { ...obj, metadata: { ...metadata, namespace: t.ns, resourceVersion: old?.metadata.resourceVersion } };
    let result = old ? this.store.update(t, body).object : this.store.create(t, body).object;
    if (obj.status !== undefined && t.rt.statusVersions.has(t.version)) {
      const named = { ...t, name: result.metadata.name };
      result = this.store.update(named, { ...result, status: obj.status }, { subresource: 'status' }).object;
    }
    return result;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    try {
      return this.store.get(this.target(apiVersion, kind, namespace, name));
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** Objects of a kind, in one namespace or (undefined) all. */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const items = this.store.list(this.target(apiVersion, kind, namespace)).items as KubeObject[];
    return items.map((o) => ({ apiVersion, kind, ...o }));
  }

  /** DELETE as a client would send it: objects with finalizers are only marked. */
  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    this.store.delete(this.target(apiVersion, kind, namespace, name));
  }

  /** Forgets the event history, so watches from older resourceVersions get 410 Gone. */
  compact(): void {
    this.store.compact();
  }
}
