// Privileged suites need root, tracefs and no lab namespaces left by an earlier crashed run.
// Plain JS: jest loads global setup outside its module mapping.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const LAB_NETNS = /^rtlab-.*-(\d+)-\d+$/;

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
    throw new Error('retrace tests load eBPF into the running kernel: run them as root (e.g. `sudo make test`)');
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
}
