// Privileged suites need root, tracefs and no lab namespaces left by an earlier crashed run. It
// also names where this run's test API server goes (started on first use, see
// e2e/src/k8s/envtest.ts) and stops the ones earlier crashed runs left.
// Plain JS: jest loads global setup outside its module mapping.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAB_NETNS = /^rtlab-.*-(\d+)-\d+$/;
const ENVTEST_DIR = /^retrace-envtest-(\d+)(-\d+)?$/;
export const APISERVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'k8s', 'apiserver.sh');
export const SHARED_DIR_ENV = 'RETRACE_ENVTEST_DIR';

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default function globalSetup() {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'retrace tests load eBPF into the running kernel: run them as root (e.g. `sudo make test`), ' +
        'or the tests that need neither root nor a kernel as any user: `npm run test:unit`',
    );
  }
  const mounts = readFileSync('/proc/mounts', 'utf8');
  if (!/ \/sys\/kernel\/tracing tracefs /.test(mounts) && existsSync('/sys/kernel/tracing')) {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
  }
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
  for (const name of names) {
    const m = LAB_NETNS.exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      execFileSync('ip', ['netns', 'del', name]);
      console.warn(`removed namespace ${name} left by an earlier crashed run`);
    }
  }
  for (const name of readdirSync(tmpdir())) {
    const m = ENVTEST_DIR.exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      execFileSync(APISERVER_SCRIPT, ['stop', join(tmpdir(), name)], { stdio: 'inherit' });
      console.warn(`stopped the test API server ${name} left by an earlier crashed run`);
    }
  }
  process.env[SHARED_DIR_ENV] = join(tmpdir(), `retrace-envtest-${process.pid}`);
}
