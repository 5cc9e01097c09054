// Mutual TLS for the agent link and the query API: certificates come from files. Without them
// only an explicit insecure mode works, meant for local tests.
import { readFileSync } from 'node:fs';
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';

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

function material(tls: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: pemCheck('CA certificate', tls.ca, read('CA certificate', '--ca', tls.ca), 'CERTIFICATE'),
    cert: pemCheck('certificate', tls.cert, read('certificate', '--cert', tls.cert), 'CERTIFICATE'),
    key: pemCheck('private key', tls.key, read('private key', '--key', tls.key), ''),
  };
}

/** Server side: clients must present a certificate signed by the CA. */
export function serverCredentials(tls: TlsFiles): ServerCredentials {
  if (tls.insecure) return ServerCredentials.createInsecure();
  const m = material(tls);
  return ServerCredentials.createSsl(m.ca, [{ cert_chain: m.cert, private_key: m.key }], true);
}

/** Client side: the server's certificate is checked against the CA; ours is presented. */
export function channelCredentials(tls: TlsFiles): ChannelCredentials {
  if (tls.insecure) return credentials.createInsecure();
  const m = material(tls);
  return credentials.createSsl(m.ca, m.key, m.cert);
}
