// A cluster that cannot start says which component failed and where its log is, and `down`
// leaves nothing of it behind. The failure is a real one: etcd's client port already taken by
// another listener (what a second etcd, or any other service on 2379, does to a user).
// RETRACE_K8S=0 skips it, like the real-cluster scenario.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CLUSTER_SCRIPT, K8S_STATE } from '../src/k8s/real-cluster.js';

const enabled = process.env.RETRACE_K8S !== '0';
const d = enabled ? describe : describe.skip;
const RUN_DIR = '/run/retrace-k8s';

/** Processes that carry the mark cluster.sh gives what it starts (lib/common.sh). */
function markedProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (env.includes(`RETRACE_K8S_OWNER=${RUN_DIR}`))
        out.push(`${pid} ${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const mountsOfCluster = (): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(K8S_STATE) || m.startsWith(RUN_DIR));

d('cluster.sh up failing', () => {
  let squatter: Server | undefined;

  afterAll(async () => {
    await new Promise((r) => (squatter ? squatter.close(r) : r(undefined)));
    spawnSync(CLUSTER_SCRIPT, ['down'], { stdio: 'inherit' });
  });

  test(
    'etcd cannot listen: up names etcd and its log file, and down removes everything',
    async () => {
      squatter = createServer();
      await new Promise<void>((resolve, reject) => {
        squatter?.once('error', reject);
        squatter?.listen(2379, '127.0.0.1', () => resolve());
      });
      const up = spawnSync(CLUSTER_SCRIPT, ['up'], { encoding: 'utf8', timeout: 30 * 60_000 });
      expect(up.status).not.toBe(0);
      const log = join(K8S_STATE, 'logs', 'etcd.log');
      expect(up.stderr).toContain(`cluster: etcd exited while starting; see ${log}`);
      // The log it points at says why.
      expect(readFileSync(log, 'utf8')).toMatch(/address already in use/);

      const down = spawnSync(CLUSTER_SCRIPT, ['down'], { encoding: 'utf8' });
      expect(down.status).toBe(0);
      expect(markedProcesses()).toEqual([]);
      expect(mountsOfCluster()).toEqual([]);
      expect(existsSync(RUN_DIR)).toBe(false);
      // The logs stay for reading after a failed run.
      expect(existsSync(log)).toBe(true);
    },
    35 * 60_000,
  );
});
