// The running kernel as profile conditions see it: its release, and which functions and
// tracepoints exist (tracefs's event list, BTF's btf_trace_* types, BTF functions, kallsyms).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { textSymbols } from './decode/kallsyms.js';
import { tracefsDir } from './probes/catalog.js';
import { KernelBtf } from '@retrace/ebpf-loader';
import type { KernelFacts } from '@retrace/spec';

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function quietly<T>(make: () => T, fallback: T): T {
  try {
    return make();
  } catch {
    return fallback; // a source that is missing here (no BTF, kallsyms hidden) just knows nothing
  }
}

/** `category:name` of every tracepoint tracefs lists (empty when tracefs is not mounted). */
const tracefsEvents = lazy(() => {
  const dir = tracefsDir();
  return new Set(dir ? quietly(() => readFileSync(`${dir}/available_events`, 'utf8').split('\n'), []) : []);
});
const tracefsNames = lazy(() => new Set([...tracefsEvents()].map((e) => e.slice(e.indexOf(':') + 1))));
const btfTracepoints = lazy(() => new Set(quietly(() => KernelBtf.vmlinux().tracepointNames(), [])));
const kallsymsText = lazy(() => {
  const text = quietly(() => readFileSync('/proc/kallsyms', 'utf8'), '');
  return new Set([...textSymbols(text)].map(([, name]) => name));
});

function hasTracepoint(name: string): boolean {
  const colon = name.indexOf(':');
  if (colon < 0) return tracefsNames().has(name) || btfTracepoints().has(name);
  if (tracefsEvents().size) return tracefsEvents().has(name);
  return btfTracepoints().has(name.slice(colon + 1)); // no tracefs: categories are unknown
}

function hasFunction(name: string): boolean {
  return quietly(() => KernelBtf.vmlinux().hasFunction(name), false) || kallsymsText().has(name);
}

export function runningKernel(): KernelFacts {
  return {
    release: release(),
    hasSymbol: (name) => hasTracepoint(name) || (!name.includes(':') && hasFunction(name)),
  };
}
