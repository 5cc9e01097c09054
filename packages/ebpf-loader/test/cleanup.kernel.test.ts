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

function startChild(args: string[]): { child: ReturnType<typeof spawn>; lines: AsyncGenerator<string> } {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'attach-and-wait.mjs');
  const child = spawn(
    process.execPath,
    [...args.filter((a) => a.startsWith('--')), script, ...args.filter((a) => !a.startsWith('--'))],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  async function* lines(): AsyncGenerator<string> {
    let buf = '';
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        yield buf.slice(0, nl);
        buf = buf.slice(nl + 1);
      }
    }
  }
  return { child, lines: lines() };
}

async function nextLine(lines: AsyncGenerator<string>): Promise<string> {
  const r = await lines.next();
  if (r.done) throw new Error('child exited before printing');
  return r.value;
}

async function kill(child: ReturnType<typeof spawn>): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
}

test('after SIGKILL of the owning process the kernel holds nothing of it', async () => {
  const { child, lines } = startChild([]);
  const { progId, linkId } = JSON.parse(await nextLine(lines)) as { progId: number; linkId: number };
  expect(progExists(progId)).toBe(true);
  expect(linkExists(linkId)).toBe(true);
  await kill(child);
  await waitFor(() => !progExists(progId) && !linkExists(linkId), `prog ${progId} and link ${linkId} to go`);
});

test('a link whose JS object is garbage-collected is detached', async () => {
  const { child, lines } = startChild(['--expose-gc', 'gc']);
  try {
    const { progId, linkId } = JSON.parse(await nextLine(lines)) as { progId: number; linkId: number };
    expect(await nextLine(lines)).toBe('collected');
    await waitFor(() => !linkExists(linkId), `link ${linkId} to go after garbage collection`);
    expect(progExists(progId)).toBe(true); // the object, still referenced, stays loaded
  } finally {
    await kill(child);
  }
});
