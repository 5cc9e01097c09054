// --kconf: plain and gzip configurations, found where retis looks, and every bad file refused
// with what it is and what to give instead.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  KernelConfigError,
  describeConfig,
  kernelConfig,
  kernelConfigPaths,
  kprobesMissing,
  option,
  parseKernelConfig,
  readKernelConfig,
} from '../../src/kernel-config.js';

const TEXT = [
  '# Automatically generated file; DO NOT EDIT.',
  'CONFIG_BPF_SYSCALL=y',
  'CONFIG_NF_CONNTRACK=m',
  'CONFIG_LOCALVERSION="-lab"',
  '# CONFIG_KPROBES is not set',
  'CONFIG_NR_CPUS=64',
].join('\n');

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'rflags-kconf-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('options set, unset, quoted and numeric', () => {
  const m = parseKernelConfig(TEXT);
  expect(m.get('CONFIG_BPF_SYSCALL')).toBe('y');
  expect(m.get('CONFIG_NF_CONNTRACK')).toBe('m');
  expect(m.get('CONFIG_LOCALVERSION')).toBe('-lab');
  expect(m.get('CONFIG_KPROBES')).toBe('n');
  expect(m.get('CONFIG_NR_CPUS')).toBe('64');
});

test('plain and gzip files read the same; kprobes missing is said with the file', () => {
  writeFileSync(join(dir, 'config'), TEXT);
  writeFileSync(join(dir, 'config.gz'), gzipSync(TEXT));
  const plain = readKernelConfig(join(dir, 'config'));
  const gz = readKernelConfig(join(dir, 'config.gz'));
  expect([...gz.options]).toEqual([...plain.options]);
  expect(option(plain, 'OPENVSWITCH')).toBe('n');
  expect(kprobesMissing(gz)).toBe(`CONFIG_KPROBES is not set in ${join(dir, 'config.gz')}`);
  expect(kprobesMissing(undefined)).toBeUndefined();
  const lines = describeConfig(plain);
  expect(lines).toContain('CONFIG_BPF_SYSCALL=y');
  expect(lines).toContain('CONFIG_NF_CONNTRACK=m (a module: loaded when needed)');
  expect(lines.find((l) => l.startsWith('CONFIG_KPROBES'))).toMatch(/is not set: unavailable: kprobe/);
  expect(lines.find((l) => l.startsWith('CONFIG_DEBUG_INFO_BTF'))).toMatch(/retrace cannot trace on this kernel/);
});

test('bad --kconf files are refused, naming the file and what to give', () => {
  writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(dir, 'broken.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  const cases: [string, RegExp][] = [
    [join(dir, 'none'), /no such file/],
    [dir, /is a directory/],
    [join(dir, 'passwd'), /is not a kernel configuration \(no CONFIG_ lines\)/],
    [join(dir, 'broken.gz'), /is gzip data that does not decompress/],
  ];
  for (const [path, why] of cases) {
    expect(() => kernelConfig(path)).toThrow(KernelConfigError);
    expect(() => kernelConfig(path)).toThrow(why);
    expect(() => kernelConfig(path)).toThrow(/give the kernel's build configuration, e\.g\. \/boot\/config-/);
  }
});

test("without --kconf, retis's places in order; none found is no error", () => {
  expect(kernelConfigPaths('6.1.0-9')).toEqual([
    '/proc/config.gz',
    '/boot/config-6.1.0-9',
    '/lib/modules/6.1.0-9/config',
    '/run/host/usr/lib/modules/6.1.0-9/config',
  ]);
  writeFileSync(join(dir, 'second'), TEXT);
  expect(kernelConfig(undefined, [join(dir, 'none'), join(dir, 'passwd'), join(dir, 'second')])?.path).toBe(
    join(dir, 'second'),
  );
  expect(kernelConfig(undefined, [join(dir, 'none')])).toBeUndefined();
});
