// Mutual TLS for the agent link and the query API: certificates come from files. Without them
// only an explicit insecure mode works, meant for local tests.
import { readFileSync } from 'node:fs';
import { credentials, experimental, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';

export interface TlsFiles {
  /** CA bundle that signs the peers' certificates. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Plain text: for local tests only. */
  insecure?: boolean;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

function read(what: string, flag: string, path: string | undefined): Buffer {
  if (!path)
    throw new CertificateError(
      `no ${what} given: pass ${flag} FILE (mutual TLS is required; --insecure turns it off for local tests only)`,
    );
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CertificateError(`cannot read the ${what} ${path} (${flag}): ${(e as Error).message}`);
  }
}

function pemCheck(what: string, path: string | undefined, b: Buffer, marker: string): Buffer {
  if (!b.toString('latin1').includes(`-----BEGIN ${marker}`))
    throw new CertificateError(`${path} is not a PEM ${what} (no '-----BEGIN ${marker}' line)`);
  return b;
}

const caOf = (tls: TlsFiles): Buffer =>
  pemCheck('CA certificate', tls.ca, read('CA certificate', '--ca', tls.ca), 'CERTIFICATE');

function material(tls: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: caOf(tls),
    cert: pemCheck('certificate', tls.cert, read('certificate', '--cert', tls.cert), 'CERTIFICATE'),
    key: pemCheck('private key', tls.key, read('private key', '--key', tls.key), ''),
  };
}

/**
 * Certificates that never change, in the shape grpc-js's certificate-provider credentials take.
 * Listeners are called after a turn, as a file watcher would: grpc-js adds its server's watcher
 * only after the provider's listener, and an answer given at once would reach no server.
 */
function staticProvider(m: { ca: Buffer; cert: Buffer; key: Buffer }): experimental.CertificateProvider {
  return {
    addCaCertificateListener: (l) => queueMicrotask(() => l({ caCertificate: m.ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) => queueMicrotask(() => l({ certificate: m.cert, privateKey: m.key })),
    removeIdentityCertificateListener: () => undefined,
  };
}

export interface ServerTlsOptions {
  /**
   * `required` (default): a client without a certificate the CA signed fails the handshake.
   * `optional`: such a client gets through without a certificate identity (grpc-js gives its
   * calls no peer certificate), for services that know callers another way (a bearer token); each
   * service must then refuse certificate-less calls where a certificate is needed.
   */
  clientCertificates?: 'required' | 'optional';
}

/** Server side: clients present a certificate signed by the CA (or may not, when optional). */
export function serverCredentials(tls: TlsFiles, opts: ServerTlsOptions = {}): ServerCredentials {
  if (tls.insecure) return ServerCredentials.createInsecure();
  const m = material(tls);
  if (opts.clientCertificates !== 'optional')
    return ServerCredentials.createSsl(m.ca, [{ cert_chain: m.cert, private_key: m.key }], true);
  // createSsl cannot ask for a certificate without requiring it; these credentials can
  // (requestCert, not rejectUnauthorized). One provider gives both CA and identity: grpc-js
  // 1.14 passes the two providers to the constructor in the other order than it documents.
  const provider = staticProvider(m);
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * Client side: the server's certificate is checked against the CA; ours is presented. With a CA
 * and no certificate nor key, none is presented (a server with optional client certificates,
 * where the caller is known by a bearer token).
 */
export function channelCredentials(tls: TlsFiles): ChannelCredentials {
  if (tls.insecure) return credentials.createInsecure();
  if (tls.ca && !tls.cert && !tls.key) return credentials.createSsl(caOf(tls));
  const m = material(tls);
  return credentials.createSsl(m.ca, m.key, m.cert);
}
