// kubectl retrace reads journeys as the kubeconfig's user: the bearer token that user sends to
// the API server goes to the aggregator too; a user known by a client certificate has none.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceClient } from '../../src/kube/trace-client.js';

const dir = mkdtempSync(join(tmpdir(), 'retrace-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, user: object): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return file;
}

test("a token in the kubeconfig, or an exec plugin's, is the user's bearer token", async () => {
  expect(await new TraceClient({ kubeconfig: kubeconfig('token', { token: 'abc.def' }) }).bearerToken()).toBe(
    'abc.def',
  );
  // An exec plugin's answer, as cloud and OIDC kubeconfigs give it.
  const credential = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: 'from-a-plugin' },
  });
  const exec = {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: '/bin/sh',
    args: ['-c', `echo '${credential}'`],
    interactiveMode: 'Never',
  };
  expect(await new TraceClient({ kubeconfig: kubeconfig('exec', { exec }) }).bearerToken()).toBe('from-a-plugin');
});

test('a user known by a client certificate sends no token', async () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const kc = kubeconfig('cert', {
    'client-certificate-data': Buffer.from(pem).toString('base64'),
    'client-key-data': Buffer.from('key').toString('base64'),
  });
  expect(await new TraceClient({ kubeconfig: kc }).bearerToken()).toBeUndefined();
});
