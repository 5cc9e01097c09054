// Who is calling, from the client certificate of a gRPC call: its names (CN, DNS names) and the
// node names it is bound to (DNS SANs `NAME.nodes.retrace`: a DNS name, because every issuer
// can put one in, helm's genSignedCert included). An agent certificate bound to a node may
// register as that node only; see docs/cluster.md for how to issue one per node.
import { X509Certificate } from 'node:crypto';

/** The DNS SAN suffix naming the node an agent certificate belongs to: `NODE.nodes.retrace`. */
export const NODE_NAME_SUFFIX = '.nodes.retrace';

/** The DNS SAN that binds an agent certificate to `node`. */
export const nodeSan = (node: string): string => `${node}${NODE_NAME_SUFFIX}`;

export interface PeerIdentity {
  /** CN and DNS names (empty without TLS or a certificate). */
  names: string[];
  /** Nodes the certificate is bound to (its `NAME.nodes.retrace` DNS names). */
  nodes: string[];
}

/** A certificate's identity from its CN and subjectAltName ("DNS:a, DNS:n1.nodes.retrace, ..."). */
export function identityOf(cn: string | string[] | undefined, subjectAltName: string | undefined): PeerIdentity {
  const sans = (subjectAltName ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const dns = sans.filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4));
  const nodes = dns.filter((x) => x.endsWith(NODE_NAME_SUFFIX)).map((x) => x.slice(0, -NODE_NAME_SUFFIX.length));
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
