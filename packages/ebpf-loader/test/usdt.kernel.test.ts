// USDT: a probe in a tiny C program (sys/sdt.h) attaches through libbpf's USDT support and fires.
import { spawn } from 'node:child_process';
import { BpfObject, RingBufferReader, bpfArtifactPath, bpfObjectPath, decodeRecord } from '@retrace/ebpf-loader';
import { waitFor } from '@retrace/e2e';
import { structLayout } from './struct-layout.js';

test('a USDT probe fires with its arguments, the process id and the attach cookie', async () => {
  const target = bpfArtifactPath('tests/usdt_target');
  const objectPath = bpfObjectPath('tests/usdt_probe');
  const layout = structLayout(objectPath, 'usdt_record');
  const obj = BpfObject.open(objectPath);
  const records: Record<string, number>[] = [];
  let rb: RingBufferReader | undefined;
  try {
    obj.load();
    const link = obj.program('on_hit').attachUsdt(target, 'retrace_test', 'hit', { cookie: 77n });
    rb = new RingBufferReader(obj.map('events'), (b) => {
      for (const r of b) records.push(decodeRecord(layout, r));
    }).start();
    const child = spawn(target, ['5'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await exited;
    await waitFor(() => records.length >= 5, 'five USDT hits');
    expect(records.map((r) => r['counter'])).toEqual([1, 2, 3, 4, 5]);
    for (const r of records) {
      expect(r['magic']).toBe(0x5eed);
      expect(r['pid']).toBe(child.pid);
      expect(r['cookie']).toBe(77);
    }
    link.close();
    records.length = 0;
    const again = spawn(target, ['2'], { stdio: 'ignore' });
    await new Promise((r) => again.on('exit', r));
    rb.consume();
    expect(records).toHaveLength(0); // detached: nothing more
  } finally {
    rb?.close();
    obj.close();
  }
});

test('a USDT probe that does not exist in the binary is refused with the probe named', () => {
  const obj = BpfObject.open(bpfObjectPath('tests/usdt_probe'));
  try {
    obj.load();
    expect(() =>
      obj.program('on_hit').attachUsdt(bpfArtifactPath('tests/usdt_target'), 'retrace_test', 'missing'),
    ).toThrow(/usdt:.*usdt_target:retrace_test:missing/);
  } finally {
    obj.close();
  }
});
