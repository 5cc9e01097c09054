// A small REST client for tests against a real API server: any object by apiVersion and kind
// (discovery finds its resource), subresources such as status, collections, and the server's
// refusals as ApiError (code, reason, message), so a test can assert what was refused and why.
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** What names an object: enough to find it. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface ApiResource {
  /** The plural, as in the path. */
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** group/version, or version for the core group. */
  groupVersion: string;
}

/** One thing wrong with a refused object: the field, and what the server says of it. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** A request the API server refused, in its own words (a metav1.Status). */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly code: number,
    readonly reason: string,
    readonly serverMessage: string,
    readonly causes: StatusCause[] = [],
  ) {
    super(`${method} ${path}: ${code} ${reason}: ${serverMessage}`);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;

const MERGE_PATCH = 'application/merge-patch+json';

export class RestClient {
  private readonly server: URL;
  private readonly discovered = new Map<string, ApiResource[]>();

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig names no cluster');
    this.server = new URL(cluster.server);
  }

  /** One request; a JSON body in and out. Non-2xx answers throw ApiError. */
  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // With a length: the API server ignores a chunked body on DELETE (its DeleteOptions).
    const sending = data ? { 'Content-Type': contentType, 'Content-Length': data.length } : {};
    const opts: RequestOptions = {
      method,
      hostname: this.server.hostname,
      port: this.server.port,
      path,
      headers: { Accept: 'application/json', ...sending },
    };
    await this.kc.applyToHTTPSOptions(opts);
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(data);
    });
    const parsed = parseJson(text);
    if (status < 200 || status > 299) {
      const s = (parsed ?? {}) as { reason?: string; message?: string; details?: { causes?: StatusCause[] } };
      throw new ApiError(method, path, status, s.reason ?? '', s.message ?? text.trim(), s.details?.causes ?? []);
    }
    return parsed as T;
  }

  /** The resources a group/version serves (not subresources); asked again while it serves none. */
  async resources(groupVersion: string): Promise<ApiResource[]> {
    const cached = this.discovered.get(groupVersion);
    if (cached) return cached;
    const path = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    const list = await this.request<{ resources: Omit<ApiResource, 'groupVersion'>[] }>('GET', path);
    const found = list.resources.filter((r) => !r.name.includes('/')).map((r) => ({ ...r, groupVersion }));
    this.discovered.set(groupVersion, found);
    return found;
  }

  /** Every group/version the server serves (its preferred version of each group). */
  async groupVersions(): Promise<string[]> {
    const core = await this.request<{ versions: string[] }>('GET', '/api');
    const groups = await this.request<{ groups: { preferredVersion: { groupVersion: string } }[] }>('GET', '/apis');
    return [...core.versions, ...groups.groups.map((g) => g.preferredVersion.groupVersion)];
  }

  async resourceOf(apiVersion: string, kind: string): Promise<ApiResource> {
    let r = (await this.resources(apiVersion)).find((x) => x.kind === kind);
    if (!r) {
      this.discovered.delete(apiVersion); // a CRD established since
      r = (await this.resources(apiVersion)).find((x) => x.kind === kind);
    }
    if (!r) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    return r;
  }

  /** The path of a resource's collection (in `namespace` when namespaced). */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const r = await this.resourceOf(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (r.namespaced && !namespace) throw new Error(`${kind} is namespaced: give its namespace`);
    return `${base}${r.namespaced ? `/namespaces/${namespace}` : ''}/${r.name}`;
  }

  async path(o: ObjectRef, subresource?: string): Promise<string> {
    const base = await this.collectionPath(o.apiVersion, o.kind, o.metadata.namespace);
    return `${base}/${o.metadata.name}${subresource ? `/${subresource}` : ''}`;
  }

  async create<T extends KubeObject>(o: T): Promise<T> {
    return this.request<T>('POST', await this.collectionPath(o.apiVersion, o.kind, o.metadata.namespace), o);
  }

  /** The object, or undefined when there is none. */
  async get<T extends KubeObject>(o: ObjectRef): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.path(o));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(apiVersion: string, kind: string, namespace?: string): Promise<T[]> {
    return (await this.request<{ items: T[] }>('GET', await this.collectionPath(apiVersion, kind, namespace))).items;
  }

  async replace<T extends KubeObject>(o: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', await this.path(o, subresource), o);
  }

  /** A JSON merge patch (RFC 7386) of the object or of a subresource. */
  async patch<T extends KubeObject>(o: ObjectRef, patch: unknown, subresource?: string): Promise<T> {
    return this.request<T>('PATCH', await this.path(o, subresource), patch, MERGE_PATCH);
  }

  /** Creates the object, or replaces the one there (keeping what the server set on it: uid, status). */
  async apply<T extends KubeObject>(o: T): Promise<T> {
    const there = await this.get<T>(o);
    if (!there) return this.create(o);
    return this.replace({ ...o, metadata: { ...o.metadata, resourceVersion: there.metadata.resourceVersion } });
  }

  /** Sets the status through the status subresource, as a kubelet or a controller does. */
  async setStatus<T extends KubeObject>(o: ObjectRef, status: unknown): Promise<T> {
    return this.patch<T>(o, { status }, 'status');
  }

  /** Deletes at once (grace period 0, as no kubelet will confirm a pod gone); absent is fine. */
  async delete(o: ObjectRef): Promise<void> {
    try {
      await this.request('DELETE', await this.path(o), { gracePeriodSeconds: 0 });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
