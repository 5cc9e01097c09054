// What this kernel offers to probe: tracepoints (tracefs's available_events gives categories;
// BTF's btf_trace_* typedefs say which can be attached with raw tracepoints) and functions.
import { existsSync, readFileSync } from 'node:fs';
import { KernelBtf } from '@retrace/ebpf-loader';

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export function tracefsDir(): string | undefined {
  return TRACEFS.find((d) => existsSync(`${d}/available_events`));
}

let tracepointCache: string[] | undefined;

/** `category:name` of every tracepoint with BTF; categories are `*` when tracefs is not mounted. */
export function tracepoints(): string[] {
  if (tracepointCache) return tracepointCache;
  const withBtf = new Set(KernelBtf.vmlinux().tracepointNames());
  const dir = tracefsDir();
  if (dir) {
    tracepointCache = readFileSync(`${dir}/available_events`, 'utf8')
      .split('\n')
      .filter((l) => l && withBtf.has(l.slice(l.indexOf(':') + 1)));
  } else {
    tracepointCache = [...withBtf].map((n) => `*:${n}`);
  }
  return tracepointCache;
}

/** Kernel functions with BTF (what kprobes and fentry can target). */
export function functions(): string[] {
  return KernelBtf.vmlinux().functionNames();
}
