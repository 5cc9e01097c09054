// A USDT probe given with -p: each hit of the probe in the running binary is a userspace event
// with the binary's path, the process and the probe's address; nothing stays loaded after.
import { join } from 'node:path';
import { runRetrace } from '@retrace/e2e';
import { bpfArtifactPath } from '@retrace/ebpf-loader';
import { expectNothingLoaded, readEvents, tempDir } from './helpers.js';

test('-p usdt:BINARY:PROVIDER:NAME reports every hit as a userspace event', async () => {
  const target = bpfArtifactPath('tests/usdt_target');
  const { dir, remove } = tempDir();
  try {
    const out = join(dir, 'usdt.json');
    const r = runRetrace(['collect', '-p', `usdt:${target}:retrace_test:hit`, '--cmd', `${target} 3`, '-o', out]);
    expect(r.code).toBe(0);
    const hits = readEvents(out).filter((e) => e.userspace);
    expect(hits).toHaveLength(3);
    for (const e of hits) {
      expect(e.userspace).toMatchObject({ probe_type: 'usdt', symbol: 'retrace_test:hit', path: target });
      expect(e.userspace?.ip).toBeGreaterThan(0n);
      expect(e.common?.task?.comm).toBe('usdt_target');
    }
    expect(new Set(hits.map((e) => e.userspace?.pid)).size).toBe(1);
  } finally {
    remove();
  }
  await expectNothingLoaded();
});
