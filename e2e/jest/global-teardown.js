// Stops this run's test API server, if a test started it (e2e/src/k8s/envtest.ts).
// Plain JS: jest loads global teardown outside its module mapping.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { APISERVER_SCRIPT, SHARED_DIR_ENV } from './global-setup.js';

export default function globalTeardown() {
  const dir = process.env[SHARED_DIR_ENV];
  if (dir && existsSync(dir)) execFileSync(APISERVER_SCRIPT, ['stop', dir], { stdio: 'inherit' });
}
