// A pretend kernel for condition tests: a release and the symbols that exist on it.
import type { KernelFacts } from '../../src/profiles/conditions.js';

export function fakeKernel(release: string, symbols: string[] = []): KernelFacts {
  const known = new Set(symbols);
  return { release, hasSymbol: (name) => known.has(name) };
}
