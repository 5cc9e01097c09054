// genCA and genSignedCert as sprig makes them: RSA 2048 keys (PKCS#1 PEM), a CA valid for the
// given days, certificates for server and client use with the given IPs and DNS names. Node
// cannot write X.509, so openssl signs (a child process per certificate, in a temporary folder).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMap, toStr, type GoFunc, type GoMap } from '../values.js';
import { int, list, str } from './args.js';

export class OpensslError extends Error {
  constructor(detail: string) {
    super(`openssl (needed for genCA/genSignedCert) failed: ${detail}; install openssl`);
    this.name = 'OpensslError';
  }
}

const newKey = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'rt-helm-cert-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new OpensslError(err.stderr?.toString().trim() || err.message);
  }
}

const serial = (): string =>
  `0x${randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '7')}`;

export function genCA(cn: string, days: number): GoMap {
  return inTemp((dir) => {
    const key = newKey();
    writeFileSync(join(dir, 'ca.key'), key);
    const ext = [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = v3',
      '[dn]',
      '[v3]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign',
      'extendedKeyUsage = serverAuth, clientAuth',
      'subjectKeyIdentifier = hash',
    ].join('\n');
    writeFileSync(join(dir, 'ca.cnf'), ext);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'ca.key'),
      '-subj',
      `/CN=${cn}`,
      '-days',
      String(days),
      '-set_serial',
      serial(),
      '-config',
      join(dir, 'ca.cnf'),
      '-out',
      join(dir, 'ca.crt'),
    ]);
    return { Cert: readFileSync(join(dir, 'ca.crt'), 'utf8'), Key: key };
  });
}

export function genSignedCert(cn: string, ips: string[], names: string[], days: number, ca: GoMap): GoMap {
  const caCert = toStr(ca['Cert']);
  const caKey = toStr(ca['Key']);
  if (!caCert || !caKey) throw new Error('genSignedCert: the CA has no Cert or Key (use genCA)');
  return inTemp((dir) => {
    const key = newKey();
    writeFileSync(join(dir, 'tls.key'), key);
    writeFileSync(join(dir, 'ca.crt'), caCert);
    writeFileSync(join(dir, 'ca.key'), caKey);
    const sans = [...ips.map((ip) => `IP:${ip}`), ...names.map((n) => `DNS:${n}`)];
    const ext = [
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      'authorityKeyIdentifier = keyid',
      ...(sans.length ? [`subjectAltName = ${sans.join(', ')}`] : []),
    ].join('\n');
    writeFileSync(join(dir, 'ext.cnf'), ext);
    openssl(['req', '-new', '-key', join(dir, 'tls.key'), '-subj', `/CN=${cn}`, '-out', join(dir, 'tls.csr')]);
    openssl([
      'x509',
      '-req',
      '-in',
      join(dir, 'tls.csr'),
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-set_serial',
      serial(),
      '-days',
      String(days),
      '-extfile',
      join(dir, 'ext.cnf'),
      '-out',
      join(dir, 'tls.crt'),
    ]);
    return { Cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), Key: key };
  });
}

export const crypto: Record<string, GoFunc> = {
  genCA: (cn, days) => genCA(str(cn), int(days)),
  genSignedCert: (cn, ips, names, days, ca) => {
    if (!isMap(ca)) throw new Error('genSignedCert: the fifth argument must be a certificate from genCA');
    return genSignedCert(str(cn), list(ips).map(toStr), list(names).map(toStr), int(days), ca);
  },
  genPrivateKey: (type) => {
    if (str(type) !== 'rsa') throw new Error(`genPrivateKey: only rsa is supported here, not ${str(type)}`);
    return newKey();
  },
};
