// Keeps a collector's name as a literal type, so that the registry's names are a type too.
import type { Collector } from './collector.js';

export function defineCollector<const N extends string>(
  c: Collector & { readonly name: N },
): Collector & { readonly name: N } {
  return c;
}
