// Keeps a collector's name (and hostWide) as literal types, so that the registry's names are a
// type too and agent/gen-collector-names.mjs can read them.
import type { Collector } from './collector.js';

export function defineCollector<const N extends string, const H extends boolean = false>(
  c: Collector & { readonly name: N; readonly hostWide?: H },
): Collector & { readonly name: N; readonly hostWide?: H } {
  return c;
}
