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
import { Registry, splitApiVersion, type ResourceType } from './resource-type.js';
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

  private type(apiVersion: string, kind: string): [ResourceType, string] {
    const [group, version] = splitApiVersion(apiVersion);
    const rt = this.store.registry.byKind(group, version, kind);
    if (!rt) throw new UnknownKindError(apiVersion, kind);
    return [rt, version];
  }

  /**
   * Creates or replaces `obj` (namespace defaults to "default"), then writes its status through
   * the status subresource when it has one: what a controller and a kubelet would do together.
   * Throws the StatusError the API server would answer with.
   */
  apply(obj: KubeObject): KubeObject {
    const [rt, version] = this.type(obj.apiVersion ?? '', obj.kind ?? '');
    const ns = rt.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const name = obj.metadata.name ?? '';
    const old = this.get(obj.apiVersion ?? '', obj.kind ?? '', ns, name);
    const body = {
      ...obj,
      metadata: { ...obj.metadata, namespace: ns, resourceVersion: old?.metadata.resourceVersion },
    };
    let result = old
      ? this.store.update(rt, version, ns, name, body).object
      : this.store.create(rt, version, ns, body).object;
    if (obj.status !== undefined && rt.statusVersions.has(version)) {
      result = this.store.update(
        rt,
        version,
        ns,
        result.metadata.name ?? '',
        { ...result, status: obj.status },
        { subresource: 'status' },
      ).object;
    }
    return result;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const [rt, version] = this.type(apiVersion, kind);
    try {
      return this.store.get(rt, version, namespace, name);
    } catch {
      return undefined;
    }
  }

  /** Objects of a kind, in one namespace or (undefined) all. */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const [rt, version] = this.type(apiVersion, kind);
    const items = this.store.list(rt, version, namespace).items;
    return (Array.isArray(items) ? (items as KubeObject[]) : []).map((o) => ({ apiVersion, kind, ...o }));
  }

  /** DELETE as a client would send it: objects with finalizers are only marked. */
  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const [rt, version] = this.type(apiVersion, kind);
    this.store.delete(rt, version, namespace, name);
  }

  /** Forgets the event history, so watches from older resourceVersions get 410 Gone. */
  compact(): void {
    this.store.compact();
  }
}
