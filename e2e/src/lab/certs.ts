// Test certificates made with openssl: a CA, a server certificate for localhost/127.0.0.1, a
// client certificate the CA signed (bound to no node: what CLI users and operators present), one
// certificate per agent bound to its node (DNS SAN NAME.nodes.retrace, made on first use), and one
// from another CA (which the server must refuse).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by a CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
  /** An agent certificate bound to `node` (made on first use). */
  nodeCert(node: string): { cert: string; key: string };
  /** A reader's certificate, CN `name` (a Kubernetes user name), bound to no node (made on first use). */
  userCert(name: string): { cert: string; key: string };
  remove(): void;
}

function ca(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  run([
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

function leaf(
  dir: string,
  name: string,
  signer: { cert: string; key: string },
  san: string,
  cn = name,
): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  run([
    'openssl',
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    key,
    '-out',
    csr,
  ]);
  run(['sh', '-c', `printf 'subjectAltName=${san}\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ${ext}`]);
  run([
    'openssl',
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    signer.cert,
    '-CAkey',
    signer.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'retrace-certs-'));
  const root = ca(dir, 'retrace-test-ca');
  const server = leaf(dir, 'aggregator', root, 'DNS:localhost,IP:127.0.0.1');
  const client = leaf(dir, 'agent', root, 'DNS:agent');
  const rogueCa = ca(dir, 'rogue-ca');
  const rogue = leaf(dir, 'rogue', rogueCa, 'DNS:agent');
  const nodeCerts = new Map<string, { cert: string; key: string }>();
  const userCerts = new Map<string, { cert: string; key: string }>();
  return {
    userCert: (name: string) => {
      let c = userCerts.get(name);
      if (!c) userCerts.set(name, (c = leaf(dir, `user-${name}`, root, `DNS:${name}.users.retrace`, name)));
      return c;
    },
    nodeCert: (node: string) => {
      let c = nodeCerts.get(node);
      if (!c) nodeCerts.set(node, (c = leaf(dir, `agent-${node}`, root, `DNS:agent,DNS:${node}.nodes.retrace`)));
      return c;
    },
    dir,
    ca: root.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    rogueCert: rogue.cert,
    rogueKey: rogue.key,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The client flags of retrace's cluster verbs (traces, summary, events) for these certificates. */
export function clientTlsArgs(c: TestCerts): string[] {
  return ['--ca', c.ca, '--cert', c.clientCert, '--key', c.clientKey];
}
