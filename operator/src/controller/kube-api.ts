// Everything the operator asks of the Kubernetes API, through @kubernetes/client-node, in one
// place: what the Helm chart's RBAC must allow is the list of calls in this file.
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Watch,
  type KubernetesObject,
  type V1Lease,
} from '@kubernetes/client-node';
import { GROUP, VERSION, type TraceResource } from '@retrace/spec';

export type Watched = 'traces' | 'clustertraces' | 'nodes' | 'pods' | 'namespaces';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** ERROR carries a Status (e.g. 410 Gone: the history to resume from is compacted). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

const WATCH_PATHS: Record<Watched, string> = {
  traces: `/apis/${GROUP}/${VERSION}/traces`,
  clustertraces: `/apis/${GROUP}/${VERSION}/clustertraces`,
  nodes: '/api/v1/nodes',
  pods: '/api/v1/pods',
  namespaces: '/api/v1/namespaces',
};

/** HTTP status of a failed API call (0 when it never got an answer). */
export function apiStatus(e: unknown): number {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown }).statusCode ?? (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : 0;
}

/** The API server's own words for a failed call. */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body = typeof e.body === 'string' ? safeJson(e.body) : e.body;
    const msg = (body as { message?: unknown } | undefined)?.message;
    return typeof msg === 'string' ? msg : `HTTP ${e.code}`;
  }
  return (e as Error).message;
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

export class KubeApi {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly coordination: CoordinationV1Api;
  private readonly watcher: Watch;

  constructor(readonly config: KubeConfig) {
    this.core = config.makeApiClient(CoreV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.watcher = new Watch(config);
  }

  /** From KUBECONFIG (or in-cluster when the operator runs in a Pod). */
  static fromDefault(): KubeApi {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubeApi(kc);
  }

  async list(what: Watched): Promise<ListResult<KubernetesObject>> {
    let r: { items: KubernetesObject[]; metadata?: { resourceVersion?: string } };
    if (what === 'nodes') r = (await this.core.listNode()) as typeof r;
    else if (what === 'pods') r = (await this.core.listPodForAllNamespaces()) as typeof r;
    else if (what === 'namespaces') r = (await this.core.listNamespace()) as typeof r;
    else r = (await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: what })) as typeof r;
    return { items: r.items, resourceVersion: r.metadata?.resourceVersion ?? '' };
  }

  /** Watches from `resourceVersion` with bookmarks; `done` gets the error that ended it, if any. */
  async watch(
    what: Watched,
    resourceVersion: string,
    onEvent: (type: WatchEventType, obj: KubernetesObject) => void,
    done: (err: unknown) => void,
    timeoutSeconds = 300,
  ): Promise<AbortController> {
    return this.watcher.watch(
      WATCH_PATHS[what],
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (type: string, obj: KubernetesObject) => onEvent(type as WatchEventType, obj),
      done,
    );
  }

  /** Replaces a trace (its metadata: finalizers); 409 when someone changed it meanwhile. */
  async replaceTrace(t: TraceResource): Promise<TraceResource> {
    const { name, namespace } = t.metadata;
    const p = { group: GROUP, version: VERSION, name, body: t };
    return (await (namespace
      ? this.custom.replaceNamespacedCustomObject({ ...p, plural: 'traces', namespace })
      : this.custom.replaceClusterCustomObject({ ...p, plural: 'clustertraces' }))) as TraceResource;
  }

  /** Replaces a trace's status (the status subresource). */
  async replaceTraceStatus(t: TraceResource): Promise<TraceResource> {
    const { name, namespace } = t.metadata;
    const p = { group: GROUP, version: VERSION, name, body: t };
    return (await (namespace
      ? this.custom.replaceNamespacedCustomObjectStatus({ ...p, plural: 'traces', namespace })
      : this.custom.replaceClusterCustomObjectStatus({ ...p, plural: 'clustertraces' }))) as TraceResource;
  }

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (apiStatus(e) === 404) return undefined;
      throw e;
    }
  }

  createLease(namespace: string, body: V1Lease): Promise<V1Lease> {
    return this.coordination.createNamespacedLease({ namespace, body });
  }

  replaceLease(namespace: string, body: V1Lease): Promise<V1Lease> {
    return this.coordination.replaceNamespacedLease({ namespace, name: body.metadata?.name ?? '', body });
  }
}
