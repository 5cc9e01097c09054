// What this kernel offers to probe: tracepoints (tracefs's available_events gives categories;
// BTF's btf_trace_* typedefs say which can be attached with raw tracepoints) and functions.
import { existsSync, readFileSync } from 'node:fs';
import { KernelBtf } from '@retrace/ebpf-loader';

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export function tracefsDir(): string | undefined {
  return TRACEFS.find((d) => existsSync(`${d}/available_events`));
}

let btfCache: { modules: string; btfs: KernelBtf[] } | undefined;

/** vmlinux, then every loaded module with BTF (openvswitch, nf_tables, ...): what can be probed. */
export function kernelBtfs(): KernelBtf[] {
  const modules = KernelBtf.moduleNames();
  if (btfCache?.modules !== modules.join(' ')) {
    const btfs = [KernelBtf.vmlinux()];
    for (const m of modules) {
      try {
        btfs.push(KernelBtf.module(m));
      } catch {
        // unloaded meanwhile
      }
    }
    btfCache = { modules: modules.join(' '), btfs };
    tracepointCache = undefined;
    functionCache = undefined;
  }
  return btfCache.btfs;
}

/** The BTF (vmlinux or a module's) that has this function, or this tracepoint. */
export function btfWith(kind: 'function' | 'tracepoint', name: string): KernelBtf | undefined {
  return kernelBtfs().find((b) => (kind === 'function' ? b.hasFunction(name) : b.hasTracepoint(name)));
}

let tracepointCache: string[] | undefined;
let functionCache: string[] | undefined;

/** `category:name` of every tracepoint with BTF; categories are `*` when tracefs is not mounted. */
export function tracepoints(): string[] {
  const btfs = kernelBtfs();
  if (tracepointCache) return tracepointCache;
  const withBtf = new Set(btfs.flatMap((b) => b.tracepointNames()));
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

/**
 * Kernel functions with BTF (what kprobes and fentry can target), in vmlinux and loaded modules;
 * with tracefs, only those ftrace can hook (available_filter_functions), as retis matches.
 */
export function functions(): string[] {
  const btfs = kernelBtfs();
  if (functionCache) return functionCache;
  const all = btfs.flatMap((b) => b.functionNames());
  const dir = tracefsDir();
  const traceable = dir ? readTraceable(`${dir}/available_filter_functions`) : undefined;
  functionCache = traceable ? all.filter((f) => traceable.has(f)) : all;
  return functionCache;
}

function readTraceable(path: string): Set<string> | undefined {
  try {
    // lines: "name" or "name [module]"
    return new Set(
      readFileSync(path, 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[0] ?? ''),
    );
  } catch {
    return undefined;
  }
}
