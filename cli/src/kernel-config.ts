// The kernel's build configuration (--kconf FILE, else found where retis looks): which options
// the running kernel was built with, to say plainly why a feature is missing (no kprobes) and
// what a collector needs. Plain or gzip (/proc/config.gz) text, `CONFIG_X=value` and
// `# CONFIG_X is not set` lines.
import { readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { UsageError } from './usage-error.js';

/** A --kconf that cannot be used: exit 2, the file and what to give instead. */
export class KernelConfigError extends UsageError {
  constructor(path: string, why: string) {
    super(
      `--kconf ${path}: ${why}; give the kernel's build configuration, e.g. /boot/config-$(uname -r) or /proc/config.gz`,
    );
    this.name = 'KernelConfigError';
  }
}

export interface KernelConfig {
  path: string;
  /** Option (with its CONFIG_ prefix) to value: y, m, n (not set), a number or a string. */
  options: Map<string, string>;
}

/** Where a kernel's configuration usually is, in retis's order. */
export function kernelConfigPaths(rel: string = release()): string[] {
  return [
    '/proc/config.gz',
    `/boot/config-${rel}`,
    `/lib/modules/${rel}/config`,
    // A toolbox on an immutable host (CoreOS and the like) sees the host's modules here.
    `/run/host/usr/lib/modules/${rel}/config`,
  ];
}

export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set?.[1] !== undefined) out.set(set[1], (set[2] ?? '').replace(/^"(.*)"$/, '$1'));
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset?.[1] !== undefined) out.set(unset[1], 'n');
  }
  return out;
}

export function readKernelConfig(path: string): KernelConfig {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new KernelConfigError(path, 'no such file');
  if (st.isDirectory()) throw new KernelConfigError(path, 'is a directory');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new KernelConfigError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b)
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new KernelConfigError(path, `is gzip data that does not decompress (${(e as Error).message})`);
    }
  const options = parseKernelConfig(bytes.toString('utf8'));
  if (!options.size) throw new KernelConfigError(path, 'is not a kernel configuration (no CONFIG_ lines)');
  return { path, options };
}

/** The configuration given with --kconf, else the first found along kernelConfigPaths. */
export function kernelConfig(kconf: string | undefined, paths = kernelConfigPaths()): KernelConfig | undefined {
  if (kconf !== undefined) return readKernelConfig(kconf);
  for (const p of paths)
    try {
      return readKernelConfig(p);
    } catch {
      // not there (or not readable): the next place
    }
  return undefined;
}

/** An option's value, `n` when the file says it is not set or does not name it. */
export const option = (c: KernelConfig, name: string): string => c.options.get(`CONFIG_${name}`) ?? 'n';

const enabled = (v: string): boolean => v === 'y' || v === 'm';

/** What retrace needs of a kernel, and what each option gives (retis's list, plus fprobe). */
export const KERNEL_NEEDS: readonly { option: string; for: string; required?: boolean }[] = [
  { option: 'BPF_SYSCALL', for: 'eBPF itself', required: true },
  { option: 'DEBUG_INFO_BTF', for: 'BTF: probe arguments, CO-RE', required: true },
  { option: 'BPF_EVENTS', for: 'BPF programs on tracepoints and kprobes', required: true },
  { option: 'PERF_EVENTS', for: 'attaching to tracepoints and kprobes', required: true },
  { option: 'KPROBES', for: 'kprobe:/kretprobe: probes, --probe-stack, nft and OVS kprobes' },
  { option: 'FPROBE', for: 'kprobe-multi (many kprobes in one attachment)' },
  { option: 'KALLSYMS_ALL', for: 'stack traces naming data symbols' },
  { option: 'DEBUG_FS', for: 'tracefs on older kernels' },
  { option: 'NF_CONNTRACK', for: 'the ct collector' },
  { option: 'NF_TABLES', for: 'the nft collector' },
  { option: 'OPENVSWITCH', for: 'the ovs collector' },
];

/** One line per option of KERNEL_NEEDS: its value and, when off, what is missing. */
export function describeConfig(c: KernelConfig): string[] {
  return KERNEL_NEEDS.map((n) => {
    const v = option(c, n.option);
    if (enabled(v)) return `CONFIG_${n.option}=${v}${v === 'm' ? ' (a module: loaded when needed)' : ''}`;
    return `CONFIG_${n.option} is not set: ${n.required ? 'retrace cannot trace on this kernel' : `unavailable: ${n.for}`}`;
  });
}

/** Why this kernel has no kprobes, from its configuration; undefined when it says nothing against. */
export function kprobesMissing(c: KernelConfig | undefined): string | undefined {
  if (!c || enabled(option(c, 'KPROBES'))) return undefined;
  return `CONFIG_KPROBES is not set in ${c.path}`;
}
