// Reading a trace follows the reader's Kubernetes RBAC on it: a Trace NS/NAME needs `get` on
// traces.retrace.dev in NS, a ClusterTrace NAME `get` on clustertraces.retrace.dev. Who the reader
// is comes from a bearer token (validated by a TokenReview: a ServiceAccount's, or any token the
// API server accepts), or else from the client certificate as Kubernetes reads one (CN the user,
// O the groups). The API server answers through a SubjectAccessReview; the aggregator's own
// credentials need `create` on tokenreviews and subjectaccessreviews (system:auth-delegator).
// Answers are kept for a few seconds (a listing asks once per trace), in a bounded map.
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  KubeConfig,
  type V1SubjectAccessReview,
  type V1TokenReview,
} from '@kubernetes/client-node';
import { type Decision, type QueryAuthorizer, type QueryCaller } from './query-authorizer.js';

export const TRACE_GROUP = 'retrace.dev';

/** The Kubernetes API could not be used: no configuration, or one that cannot be read. */
export class KubernetesAuthorizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesAuthorizerError';
  }
}

/** A user as the API server knows it. */
interface KubeUser {
  user: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** The resource a trace name stands for: `NS/NAME` a Trace, `NAME` a ClusterTrace. */
export function traceResource(trace: string): { resource: string; namespace?: string; name: string } {
  const slash = trace.indexOf('/');
  return slash < 0
    ? { resource: 'clustertraces', name: trace }
    : { resource: 'traces', namespace: trace.slice(0, slash), name: trace.slice(slash + 1) };
}

export interface KubernetesAuthorizerOptions {
  /** How long an answer (a token's user, a user's access to a trace) is kept (default 10 s; 0: never). */
  cacheMs?: number;
  /** At most this many answers kept (default 4096): the oldest go first. */
  cacheEntries?: number;
  /**
   * SHA-256 fingerprints of certificates that read every trace when they come without a token:
   * the aggregator's own (the chart's server Secret, e.g. `kubectl retrace --tls-secret`). Its
   * holder has the aggregator's key and could be the aggregator anyway.
   */
  ownCertificates?: readonly string[];
}

export class KubernetesAuthorizer implements QueryAuthorizer {
  private readonly authn: AuthenticationV1Api;
  private readonly authz: AuthorizationV1Api;
  private readonly cacheMs: number;
  private readonly cacheEntries: number;
  private readonly cache = new Map<string, { until: number; value: Promise<unknown> }>();
  private readonly own: ReadonlySet<string>;

  constructor(kc: KubeConfig, opts: KubernetesAuthorizerOptions = {}) {
    this.authn = kc.makeApiClient(AuthenticationV1Api);
    this.authz = kc.makeApiClient(AuthorizationV1Api);
    this.cacheMs = opts.cacheMs ?? 10_000;
    this.cacheEntries = opts.cacheEntries ?? 4096;
    this.own = new Set(opts.ownCertificates ?? []);
  }

  /** The aggregator's own certificate, with no token naming someone else. */
  private isOwn(caller: QueryCaller): boolean {
    return !caller.token && caller.fingerprint !== undefined && this.own.has(caller.fingerprint);
  }

  /**
   * From KUBECONFIG (or ~/.kube/config), or in a Pod from its ServiceAccount; an error saying how
   * to give one when there is none (client-node would otherwise talk to localhost:8080).
   */
  static fromDefault(opts: KubernetesAuthorizerOptions = {}): KubernetesAuthorizer {
    const kc = new KubeConfig();
    try {
      kc.loadFromDefault();
    } catch (e) {
      throw new KubernetesAuthorizerError(`cannot read the Kubernetes configuration: ${(e as Error).message}`);
    }
    const server = kc.getCurrentCluster()?.server;
    if (!server || /^https?:\/\/localhost:8080\/?$/.test(server))
      throw new KubernetesAuthorizerError(
        'no Kubernetes API to ask who may read traces: set KUBECONFIG, or run the aggregator in a Pod',
      );
    return new KubernetesAuthorizer(kc, opts);
  }

  private cached<T>(key: string, make: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = make();
    if (this.cacheMs > 0) {
      this.cache.delete(key);
      this.cache.set(key, { until: now + this.cacheMs, value });
      // A failed look-up is not kept: the next call asks again.
      value.catch(() => this.cache.delete(key));
      while (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value as string);
    }
    return value;
  }

  /** Who the caller is to Kubernetes, or why that is unknown. */
  private async user(caller: QueryCaller): Promise<KubeUser | Exclude<Decision, undefined>> {
    if (caller.token) {
      const token = caller.token;
      let review: V1TokenReview;
      try {
        review = await this.cached(`token\0${token}`, () =>
          this.authn.createTokenReview({
            body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
          }),
        );
      } catch (e) {
        return {
          kind: 'unavailable',
          reason: `cannot ask the Kubernetes API about the token (TokenReview): ${message(e)}`,
        };
      }
      const st = review.status;
      if (!st?.authenticated || !st.user?.username)
        return {
          kind: 'unauthenticated',
          reason:
            `the Kubernetes API did not accept the bearer token${st?.error ? ` (${st.error})` : ''}: ` +
            'give a current token (kubectl create token SERVICEACCOUNT), or none to be known by the client certificate',
        };
      return {
        user: st.user.username,
        groups: st.user.groups ?? [],
        ...(st.user.uid ? { uid: st.user.uid } : {}),
        ...(st.user.extra ? { extra: st.user.extra } : {}),
      };
    }
    if (caller.commonName) return { user: caller.commonName, groups: caller.organizations };
    return {
      kind: 'unauthenticated',
      reason: 'no bearer token and no client certificate: nothing names a Kubernetes user to check access for',
    };
  }

  /** Only callers the API server knows: a listing with a bad token is refused, not empty. */
  async admit(caller: QueryCaller): Promise<Decision> {
    if (this.isOwn(caller)) return undefined;
    const who = await this.user(caller);
    return 'kind' in who ? who : undefined;
  }

  async trace(caller: QueryCaller, trace: string): Promise<Decision> {
    if (this.isOwn(caller)) return undefined;
    const who = await this.user(caller);
    if ('kind' in who) return who;
    const r = traceResource(trace);
    const what = `get ${r.resource}.${TRACE_GROUP} ${r.namespace ? `${r.name} in namespace ${r.namespace}` : r.name}`;
    let review: V1SubjectAccessReview;
    try {
      review = await this.cached(
        `sar\0${who.user}\0${who.groups.join('\0')}\0${JSON.stringify(who.extra ?? {})}\0${trace}`,
        () =>
          this.authz.createSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SubjectAccessReview',
              spec: {
                user: who.user,
                groups: who.groups,
                ...(who.uid ? { uid: who.uid } : {}),
                ...(who.extra ? { extra: who.extra } : {}),
                resourceAttributes: {
                  group: TRACE_GROUP,
                  resource: r.resource,
                  verb: 'get',
                  name: r.name,
                  ...(r.namespace ? { namespace: r.namespace } : {}),
                },
              },
            },
          }),
      );
    } catch (e) {
      return {
        kind: 'unavailable',
        reason: `cannot ask the Kubernetes API whether ${who.user} may ${what} (SubjectAccessReview): ${message(e)}`,
      };
    }
    if (review.status?.allowed) return undefined;
    const why = review.status?.reason || review.status?.evaluationError;
    return {
      kind: 'denied',
      reason:
        `Kubernetes user ${who.user} (${caller.token ? 'from the bearer token' : "the certificate's CN"}) ` +
        `may not ${what}${why ? ` (${why})` : ''}: ` +
        (r.namespace
          ? `a Role granting get on ${r.resource} in ${r.namespace} is needed to read its journeys`
          : `a ClusterRole granting get on ${r.resource} is needed to read its journeys`),
    };
  }
}

function message(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  const m = typeof body === 'string' ? body : (e as Error).message;
  return m.length > 300 ? `${m.slice(0, 300)}...` : m;
}
