// The Kubernetes calls of the cluster verbs (create, get, stop, events, drops): Traces and
// ClusterTraces through @kubernetes/client-node, and a Secret holding query TLS material.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiMessage, apiStatus } from '@retrace/operator';
import { GROUP, VERSION, type TraceResource } from '@retrace/spec';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** A ClusterTrace: names refer to it only. */
  cluster?: boolean;
}

/** A failed API call, in words that say what to check. */
export class KubeError extends Error {
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

/** Where a trace lives: a namespaced Trace or a ClusterTrace. */
export interface TraceRef {
  name: string;
  namespace?: string;
}

export const refOf = (t: TraceResource): TraceRef => ({
  name: t.metadata.name ?? '',
  ...(t.metadata.namespace ? { namespace: t.metadata.namespace } : {}),
});

/** `trace.retrace.dev/NAME` or `clustertrace.retrace.dev/NAME`, as kubectl names objects. */
export const kindName = (r: TraceRef): string => `${r.namespace ? 'trace' : 'clustertrace'}.${GROUP}/${r.name}`;

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface List {
  items: TraceResource[];
}

export class TraceClient {
  readonly namespace: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly server: string;
  private readonly kc: KubeConfig;

  constructor(private readonly flags: KubeFlags = {}) {
    const kc = new KubeConfig();
    try {
      if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
      else kc.loadFromDefault();
      if (flags.context) kc.setCurrentContext(flags.context);
    } catch (e) {
      throw new KubeError(`cannot load the kubeconfig: ${(e as Error).message} (check --kubeconfig or KUBECONFIG)`);
    }
    if (flags.context && !kc.getContextObject(flags.context))
      throw new KubeError(
        `no context ${JSON.stringify(flags.context)} in the kubeconfig (kubectl config get-contexts)`,
      );
    const cluster = kc.getCurrentCluster();
    if (!cluster)
      throw new KubeError('the kubeconfig names no cluster: set KUBECONFIG or pass --kubeconfig FILE (and --context)');
    this.server = cluster.server;
    this.namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    this.kc = kc;
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Runs an API call; failures name the object and what to check. */
  private async call<T>(what: string, f: () => Promise<unknown>): Promise<T> {
    try {
      return (await f()) as T;
    } catch (e) {
      const status = apiStatus(e);
      const msg = apiMessage(e);
      if (status === 0)
        throw new KubeError(
          `cannot reach the Kubernetes API at ${this.server} (${what}): ${msg} (check KUBECONFIG, --kubeconfig or --context)`,
        );
      if (status === 401 || status === 403)
        throw new KubeError(`${what}: ${msg} (your Kubernetes user needs access to ${GROUP} traces)`, status);
      if (status === 404 && /the server could not find the requested resource/i.test(msg))
        throw new KubeError(`${what}: the ${GROUP} CRDs are not installed (helm install retrace, or apply crds/)`, 404);
      throw new KubeError(`${what}: ${msg}`, status);
    }
  }

  create(t: TraceResource): Promise<TraceResource> {
    const ref = refOf(t);
    const p = { group: GROUP, version: VERSION, body: t };
    return this.call(`creating ${kindName(ref)}`, () =>
      ref.namespace
        ? this.custom.createNamespacedCustomObject({ ...p, namespace: ref.namespace, plural: 'traces' })
        : this.custom.createClusterCustomObject({ ...p, plural: 'clustertraces' }),
    );
  }

  /** Reads one trace by reference. */
  read(ref: TraceRef): Promise<TraceResource> {
    const p = { group: GROUP, version: VERSION, name: ref.name };
    return this.call(`reading ${kindName(ref)}`, () =>
      ref.namespace
        ? this.custom.getNamespacedCustomObject({ ...p, namespace: ref.namespace, plural: 'traces' })
        : this.custom.getClusterCustomObject({ ...p, plural: 'clustertraces' }),
    );
  }

  /**
   * The trace a user means by NAME: the Trace in the namespace, or else the ClusterTrace of that
   * name (with --cluster, only the ClusterTrace).
   */
  async find(name: string): Promise<TraceResource> {
    if (!this.flags.cluster) {
      try {
        return await this.read({ name, namespace: this.namespace });
      } catch (e) {
        if (!(e instanceof KubeError) || e.status !== 404 || /CRDs are not installed/.test(e.message)) throw e;
      }
    }
    try {
      return await this.read({ name });
    } catch (e) {
      if (e instanceof KubeError && e.status === 404)
        throw new KubeError(
          this.flags.cluster
            ? `no ClusterTrace ${JSON.stringify(name)} (kubectl retrace get lists the traces)`
            : `no Trace ${JSON.stringify(name)} in namespace ${this.namespace} and no ClusterTrace of that name (kubectl retrace get -A lists them all)`,
          404,
        );
      throw e;
    }
  }

  /** Traces of the namespace (or every namespace), then ClusterTraces (unless namespace-only). */
  async list(o: { allNamespaces?: boolean; clusterOnly?: boolean }): Promise<TraceResource[]> {
    const p = { group: GROUP, version: VERSION };
    const out: TraceResource[] = [];
    if (!o.clusterOnly) {
      const ns = (
        await this.call<List>('listing traces', () =>
          o.allNamespaces
            ? this.custom.listClusterCustomObject({ ...p, plural: 'traces' })
            : this.custom.listNamespacedCustomObject({ ...p, namespace: this.namespace, plural: 'traces' }),
        )
      ).items;
      out.push(...ns);
    }
    const cluster = await this.call<List>('listing cluster traces', () =>
      this.custom.listClusterCustomObject({ ...p, plural: 'clustertraces' }),
    ).catch((e: unknown) => {
      // A namespace user may not list ClusterTraces: their own Traces are still the answer.
      if (e instanceof KubeError && e.status === 403 && !o.clusterOnly) return { items: [] };
      throw e;
    });
    out.push(...cluster.items);
    return out;
  }

  /** Sets spec.stopped (a merge patch: nothing else of the spec changes). */
  stop(ref: TraceRef): Promise<TraceResource> {
    const p = { group: GROUP, version: VERSION, name: ref.name, body: { spec: { stopped: true } } };
    return this.call(`stopping ${kindName(ref)}`, () =>
      ref.namespace
        ? this.custom.patchNamespacedCustomObject({ ...p, namespace: ref.namespace, plural: 'traces' }, MERGE_PATCH)
        : this.custom.patchClusterCustomObject({ ...p, plural: 'clustertraces' }, MERGE_PATCH),
    );
  }

  /** `namespace/name`, or a name in the client's namespace. */
  private nameRef(ref: string): [string, string] {
    // With a slash, split('/', 2) gives exactly two parts.
    return ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [this.namespace, ref];
  }

  /** The `ca.crt`, `tls.crt` and `tls.key` of a Secret (`namespace/name`, or name in the namespace). */
  async tlsSecret(ref: string): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
    const [namespace, name] = this.nameRef(ref);
    const s = await this.call<{ data?: Record<string, string> }>(`reading Secret ${namespace}/${name}`, () =>
      this.core.readNamespacedSecret({ name, namespace }),
    );
    const get = (k: string): Buffer => {
      const v = s.data?.[k];
      if (!v)
        throw new KubeError(`Secret ${namespace}/${name} has no ${k} (a TLS Secret holds ca.crt, tls.crt, tls.key)`);
      return Buffer.from(v, 'base64');
    };
    return { ca: get('ca.crt'), cert: get('tls.crt'), key: get('tls.key') };
  }

  /** The `ca.crt` of a ConfigMap (`namespace/name`, or name in the namespace): a CA is public. */
  async caConfigMap(ref: string): Promise<Buffer> {
    const [namespace, name] = this.nameRef(ref);
    const m = await this.call<{ data?: Record<string, string> }>(`reading ConfigMap ${namespace}/${name}`, () =>
      this.core.readNamespacedConfigMap({ name, namespace }),
    );
    const ca = m.data?.['ca.crt'];
    if (!ca) throw new KubeError(`ConfigMap ${namespace}/${name} has no ca.crt (the chart's <release>-ca holds one)`);
    return Buffer.from(ca, 'utf8');
  }

  /**
   * The bearer token the kubeconfig's user sends to the API server (a token, a token file, an
   * exec or auth-provider plugin), or undefined when the user is known by a client certificate.
   */
  async bearerToken(): Promise<string | undefined> {
    // What client-node adds to a request's options (a token, a token file, a plugin's answer).
    const opts: { headers?: Record<string, string | string[] | undefined> } = {};
    try {
      await this.kc.applyToHTTPSOptions(opts);
      const auth = opts.headers?.Authorization ?? opts.headers?.authorization;
      const value = Array.isArray(auth) ? auth[0] : auth;
      return value ? /^Bearer\s+(\S+)/i.exec(value)?.[1] : undefined;
    } catch (e) {
      throw new KubeError(`cannot get the kubeconfig user's credentials: ${(e as Error).message}`);
    }
  }

  /** The kubeconfig's user name, for messages. */
  get userName(): string {
    return this.kc.getCurrentUser()?.name ?? '?';
  }
}
