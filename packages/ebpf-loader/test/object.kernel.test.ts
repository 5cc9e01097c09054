// Object lifecycle: listing, globals, instruction editing, verifier errors, attach kinds.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import {
  AttachError,
  BpfObject,
  LoadError,
  ObjectError,
  bpfArtifactPath,
  bpfObjectPath,
  probeFeatures,
} from '@retrace/ebpf-loader';

const attachKinds = bpfObjectPath('tests/attach_kinds');

test('lists programs with their sections and kinds, and maps with their shapes', () => {
  const obj = BpfObject.open(bpfObjectPath('features'));
  try {
    const progs = obj.programs();
    expect(progs.find((p) => p.name === 'feat_tp_btf')).toMatchObject({
      section: 'tp_btf/netif_receive_skb',
      typeName: 'tracing',
    });
    expect(progs.find((p) => p.name === 'feat_kprobe')).toMatchObject({ section: 'kprobe', typeName: 'kprobe' });
    expect(progs.find((p) => p.name === 'feat_uprobe')).toMatchObject({ typeName: 'kprobe' });
    expect(obj.maps().find((m) => m.name === 'feat_ringbuf')).toMatchObject({ type: 27, maxEntries: 4096 });
  } finally {
    obj.close();
  }
});

test('opens from a Buffer as well as from a path', () => {
  const obj = BpfObject.open(readFileSync(attachKinds), { name: 'from_memory' });
  try {
    expect(obj.programs().map((p) => p.name)).toContain('record_cookie');
  } finally {
    obj.close();
  }
});

test('a program the verifier refuses yields a LoadError with the verifier log', () => {
  const obj = BpfObject.open(bpfObjectPath('tests/verifier_reject'));
  try {
    let err: unknown;
    try {
      obj.load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoadError);
    const le = err as LoadError;
    expect(le.program).toBe('leaks_reservation');
    expect(le.verifierLog).toMatch(/Unreleased reference/);
    expect(le.verifierLog).toMatch(/bpf_ringbuf_reserve/);
    expect(le.message).toMatch(/program leaks_reservation.*Unreleased reference/);
    expect(le.errno).toBeGreaterThan(0);
  } finally {
    obj.close();
  }
});

test('const volatile globals are set by name before load and checked for size', () => {
  const obj = BpfObject.open(attachKinds);
  try {
    expect(() => obj.setGlobal('no_such_global', 1)).toThrow(/no global named 'no_such_global'.*target_tgid/);
    expect(() => obj.setGlobal('target_tgid', 2 ** 32)).toThrow(ObjectError);
    obj.setGlobal('target_tgid', process.pid);
    obj.load();
    expect(() => obj.setGlobal('target_tgid', 1)).toThrow(/fixed once loaded/);
  } finally {
    obj.close();
  }
});

test('instructions can be replaced before load and the new code runs', () => {
  const obj = BpfObject.open(attachKinds);
  try {
    const prog = obj.program('placeholder');
    expect(prog.instructions().length % 8).toBe(0);
    // r0 = 7; exit
    const insns = Buffer.from([0xb7, 0x00, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    prog.setInstructions(insns);
    expect(prog.instructions()).toEqual(insns);
    obj.loadOnly(['placeholder']);
    expect(prog.testRun(null, { ctx: Buffer.alloc(8) }).retval).toBe(7);
    expect(() => prog.setInstructions(insns)).toThrow(ObjectError);
  } finally {
    obj.close();
  }
});

test('a raw tracepoint attached with a cookie hands that cookie to the program', () => {
  const features = probeFeatures();
  const obj = BpfObject.open(attachKinds);
  try {
    obj.setGlobal('target_tgid', process.pid);
    obj.loadOnly(['record_cookie', 'count_raw_tp']);
    if (!features.raw_tp_cookie.available) {
      expect(() => obj.program('record_cookie').attachRawTracepoint('sys_enter', { cookie: 42n })).toThrow(AttachError);
      return;
    }
    const link = obj.program('record_cookie').attachRawTracepoint('sys_enter', { cookie: 0xfeedfacecafen });
    statSync('/'); // a syscall from this process
    expect(obj.readGlobal('raw_tp_cookie').readBigUInt64LE()).toBe(0xfeedfacecafen);
    link.close();
    const hits = obj.readGlobal('raw_tp_hits').readBigUInt64LE();
    statSync('/');
    expect(obj.readGlobal('raw_tp_hits').readBigUInt64LE()).toBe(hits); // detached: no more hits
  } finally {
    obj.close();
  }
});

test('a kprobe attaches and fires where the kernel has kprobes, and otherwise names the missing feature', () => {
  const features = probeFeatures();
  const obj = BpfObject.open(attachKinds);
  try {
    obj.setGlobal('target_tgid', process.pid);
    obj.loadOnly(['count_kprobe']);
    if (features.kprobe.available) {
      const link = obj.program('count_kprobe').attachKprobe('vfs_read');
      readFileSync('/proc/self/status');
      expect(obj.readGlobal('kprobe_hits').readBigUInt64LE()).toBeGreaterThan(0n);
      link.close();
    } else {
      let err: unknown;
      try {
        obj.program('count_kprobe').attachKprobe('ip_rcv');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AttachError);
      expect((err as Error).message).toMatch(/kprobe:ip_rcv.*CONFIG_KPROBES.*tracepoint/);
    }
  } finally {
    obj.close();
  }
});

test('unknown programs and maps, and a closed object, give errors that say what exists', () => {
  const obj = BpfObject.open(attachKinds);
  expect(() => obj.program('nope')).toThrow(/no program named 'nope'.*record_cookie/);
  expect(() => obj.map('nope')).toThrow(/no map named 'nope'/);
  expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(/opening BPF object \/nonexistent\/x.bpf.o failed/);
  obj.close();
  expect(() => obj.programs()).toThrow(/closed/);
});

test('a uprobe on a function of a binary fires with its argument, and stops when detached', async () => {
  const target = bpfArtifactPath('tests/usdt_target');
  const obj = BpfObject.open(attachKinds);
  try {
    obj.loadOnly(['count_uprobe']);
    const link = obj.program('count_uprobe').attachUprobe(target, { func: 'tick' });
    const run = (n: number): Promise<unknown> =>
      new Promise((r) => spawn(target, [String(n)], { stdio: 'ignore' }).on('exit', r));
    await run(3);
    expect(obj.readGlobal('uprobe_hits').readBigUInt64LE()).toBe(3n);
    expect(obj.readGlobal('uprobe_last_arg').readBigUInt64LE()).toBe(3n);
    link.close();
    await run(2);
    expect(obj.readGlobal('uprobe_hits').readBigUInt64LE()).toBe(3n);
    expect(() => obj.program('count_uprobe').attachUprobe(target, { func: 'no_such_function' })).toThrow(
      /uprobe:.*usdt_target:no_such_function/,
    );
  } finally {
    obj.close();
  }
});
