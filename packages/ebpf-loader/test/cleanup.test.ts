// Nothing of ours survives close() or the death of the owning process (nothing is pinned).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, bpfObjectPath } from '@retrace/ebpf-loader';
import { tryRun, waitFor } from '@retrace/e2e';

const progExists = (id: number): boolean => tryRun(['bpftool', 'prog', 'show', 'id', String(id)]);
const linkExists = (id: number): boolean => tryRun(['bpftool', 'link', 'show', 'id', String(id)]);

test('close() detaches links and unloads programs', async () => {
  const obj = BpfObject.open(bpfObjectPath('tests/attach_kinds'));
  obj.loadOnly(['count_raw_tp']);
  const prog = obj.program('count_raw_tp');
  const link = prog.attachRawTracepoint('sys_enter');
  const progId = prog.info().id;
  const linkId = link.id ?? -1;
  expect(progExists(progId)).toBe(true);
  expect(linkExists(linkId)).toBe(true);
  obj.close();
  expect(link.id).toBeUndefined();
  // The kernel frees programs after an RCU grace period.
  await waitFor(() => !progExists(progId) && !linkExists(linkId), `prog ${progId} and link ${linkId} to go`);
});

test('a link closed on its own is gone while the object stays loaded', async () => {
  const obj = BpfObject.open(bpfObjectPath('tests/attach_kinds'));
  try {
    obj.loadOnly(['count_raw_tp']);
    const link = obj.program('count_raw_tp').attachRawTracepoint('sys_enter');
    const linkId = link.id ?? -1;
    link.close();
    link.close(); // idempotent
    await waitFor(() => !linkExists(linkId), `link ${linkId} to go`);
    expect(progExists(obj.program('count_raw_tp').info().id)).toBe(true);
  } finally {
    obj.close();
  }
});

test('after SIGKILL of the owning process the kernel holds nothing of it', async () => {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'attach-and-wait.mjs');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const { progId, linkId } = JSON.parse(line) as { progId: number; linkId: number };
  expect(progExists(progId)).toBe(true);
  expect(linkExists(linkId)).toBe(true);
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  await waitFor(() => !progExists(progId) && !linkExists(linkId), `prog ${progId} and link ${linkId} to go`);
});
