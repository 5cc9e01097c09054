// Who is calling, from the client certificate of a gRPC call: its names (CN, DNS names) and the
// node names it is bound to (URI SANs `retrace:node:NAME`). An agent certificate bound to a node
// may register as that node only; see docs/cluster.md for how to issue one per node.
import { X509Certificate } from 'node:crypto';

/** The URI SAN prefix naming the node an agent certificate belongs to. */
export const NODE_URI_PREFIX = 'retrace:node:';

export interface PeerIdentity {
  /** CN and DNS names (empty without TLS or a certificate). */
  names: string[];
  /** Nodes the certificate is bound to (its `URI:retrace:node:NAME` names). */
  nodes: string[];
}

/** A certificate's identity from its CN and subjectAltName ("DNS:a, URI:retrace:node:n1, ..."). */
export function identityOf(cn: string | string[] | undefined, subjectAltName: string | undefined): PeerIdentity {
  const sans = (subjectAltName ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const dns = sans.filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4));
  const nodes = sans
    .filter((x) => x.startsWith(`URI:${NODE_URI_PREFIX}`))
    .map((x) => x.slice(4 + NODE_URI_PREFIX.length));
  return { names: [...(cn === undefined ? [] : typeof cn === 'string' ? [cn] : cn), ...dns], nodes };
}

interface WithAuthContext {
  getAuthContext?: () => { sslPeerCertificate?: { subject?: { CN?: string | string[] }; subjectaltname?: string } };
}

/** The identity of a call's client certificate. */
export function peerIdentity(call: WithAuthContext): PeerIdentity {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  return cert ? identityOf(cert.subject?.CN, cert.subjectaltname) : { names: [], nodes: [] };
}

/** The identity a certificate (PEM) carries. */
export function certificateIdentity(pem: string | Buffer): PeerIdentity {
  const c = new X509Certificate(pem);
  return identityOf(/(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1], c.subjectAltName);
}
