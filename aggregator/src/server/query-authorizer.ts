// Who may read what through the query API. Every CA-signed certificate reaches the aggregator
// (agents and users share the CA), so the certificate alone says nothing about reading traces:
// authorizers decide, per caller and per trace. The query server asks each one in turn and the
// first refusal wins. Two exist: CertificateRoleAuthorizer (here: agents' certificates are
// refused outright) and KubernetesAuthorizer (kubernetes-authorizer.ts: the user's RBAC on the
// Trace, through SubjectAccessReview).
import type { Metadata } from '@grpc/grpc-js';
import { identityOf } from './peer-identity.js';

/** What the query server knows of a caller: its client certificate and any bearer token. */
export interface QueryCaller {
  /** The certificate's CN and DNS names (empty without TLS or a certificate). */
  names: string[];
  /** The nodes the certificate is bound to: an agent's (peer-identity.ts). */
  nodes: string[];
  /** The certificate's CN, and its O entries: a user and groups, as Kubernetes reads them. */
  commonName?: string;
  organizations: string[];
  /** `authorization: Bearer TOKEN` from the call's metadata. */
  token?: string;
  /** The certificate's SHA-256 fingerprint (AA:BB:...). */
  fingerprint?: string;
}

/** Why a caller was refused: `unauthenticated` (who it is is unknown), `denied`, or `unavailable`. */
export type Refusal = { kind: 'unauthenticated' | 'denied' | 'unavailable'; reason: string };

/** Undefined: allowed. */
export type Decision = Refusal | undefined;

export interface QueryAuthorizer {
  /** Whether the caller may use the query API at all (listing traces included). */
  admit?(caller: QueryCaller): Decision | Promise<Decision>;
  /** Whether the caller may read this trace (its summary and events); `trace` as the aggregator names it. */
  trace?(caller: QueryCaller, trace: string): Decision | Promise<Decision>;
}

/** A caller as the messages name it: its certificate names, or that it has none. */
export function describeCaller(c: QueryCaller): string {
  const cert = c.names.length ? `certificate ${c.names.join(', ')}` : 'no client certificate';
  return c.token ? `${cert}, with a bearer token` : cert;
}

interface PeerCertificate {
  subject?: { CN?: string | string[]; O?: string | string[] };
  subjectaltname?: string;
  fingerprint256?: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

/** The caller of a gRPC call, from its TLS peer certificate and metadata. */
export function callerOf(call: {
  getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | undefined;
  metadata: Metadata;
}): QueryCaller {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  const cn = list(cert?.subject?.CN);
  const id = cert ? identityOf(cert.subject?.CN, cert.subjectaltname) : { names: [], nodes: [] };
  const auth = call.metadata.get('authorization')[0];
  const token = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
  return {
    names: id.names,
    nodes: id.nodes,
    ...(cn[0] !== undefined ? { commonName: cn[0] } : {}),
    organizations: list(cert?.subject?.O),
    ...(token ? { token } : {}),
    ...(cert?.fingerprint256 ? { fingerprint: cert.fingerprint256 } : {}),
  };
}

/** The chart's agent certificate (helm/retrace: tls-helm.yaml, tls-cert-manager.yaml). */
export const DEFAULT_AGENT_IDENTITIES: readonly string[] = ['retrace-agent'];

/**
 * Agents send events; they never read them. A certificate bound to a node, or naming one of
 * `agents` (CN or DNS name; a certificate all agents share), is refused everything, so that an
 * agent's certificate, taken from a compromised node, cannot read every namespace's traces.
 */
export class CertificateRoleAuthorizer implements QueryAuthorizer {
  constructor(readonly agents: readonly string[] = DEFAULT_AGENT_IDENTITIES) {}

  admit(caller: QueryCaller): Decision {
    if (caller.nodes.length)
      return {
        kind: 'denied',
        reason:
          `it is an agent's certificate (bound to node ${caller.nodes.join(', ')}); agents send events and ` +
          'may not read them: query with a user certificate',
      };
    const agent = caller.names.find((n) => this.agents.includes(n));
    if (agent === undefined) return undefined;
    return {
      kind: 'denied',
      reason:
        `it is an agent's certificate (${agent} is one of the agent identities ${this.agents.join(', ')}, ` +
        'set by --agent-identities); agents send events and may not read them: query with a user certificate',
    };
  }
}
