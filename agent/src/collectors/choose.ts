// `-c`: which collectors a session runs. `auto` starts every collector that can run here (and
// says why the others did not); a collector named by the user must run.
import { commaList } from '@retrace/spec';
import { CollectorError } from '../errors.js';
import type { SessionOptions } from '../session/options.js';
import type { Collector } from './collector.js';
import { REGISTRY, type CollectorName } from './index.js';

/** Why a collector (by name) cannot run on this machine, or undefined when it can. */
export type CollectorCheck = ((c: string) => string | undefined) & {
  /** A stricter check for collectors `auto` starts (named ones use the plain check). */
  auto?: (c: string) => string | undefined;
};

const find = (name: string): Collector | undefined => REGISTRY.find((c) => c.name === name);

/** Every collector's own check, and its stricter one for `auto`. */
export function collectorCheck(options: SessionOptions = {}): CollectorCheck {
  const check: CollectorCheck = (c) => find(c)?.unavailable?.(options);
  check.auto = (c) => {
    const s = find(c);
    return s?.unavailable?.(options) ?? s?.unavailableForAuto?.(options);
  };
  return check;
}

/** Why a collector cannot run on this kernel (the plain checks, with default options). */
export const kernelCheck: CollectorCheck = (c) => find(c)?.unavailable?.({});

export interface CollectorChoice {
  enabled: Set<CollectorName>;
  /** Collectors `auto` left out, with the reason (reported, not an error). */
  skipped: { name: CollectorName; reason: string }[];
}

/** `-c` list: names and `auto` (every collector that can run); a named one must run. */
export function chooseCollectors(list: string[], check: CollectorCheck = kernelCheck): CollectorChoice {
  const enabled = new Set<CollectorName>();
  const skipped: { name: CollectorName; reason: string }[] = [];
  const items = commaList(list);
  for (const item of items.length ? items : ['auto']) {
    if (item === 'auto') {
      for (const { name } of REGISTRY) {
        const why = (check.auto ?? check)(name);
        if (why) skipped.push({ name, reason: why });
        else enabled.add(name);
      }
      continue;
    }
    const names: readonly string[] = REGISTRY.map((c) => c.name);
    if (!names.includes(item))
      throw new CollectorError(`unknown collector '${item}'; known: auto, ${names.join(', ')}`);
    const c = item as CollectorName;
    const why = check(c);
    if (why) throw new CollectorError(`collector '${c}' cannot run: ${why}`);
    enabled.add(c);
  }
  return { enabled, skipped: skipped.filter((s) => !enabled.has(s.name)) };
}

/** The enabled collectors and those they need (and so on), in registry order. */
export function withNeeds(enabled: ReadonlySet<CollectorName>): Set<CollectorName> {
  const out = new Set<string>(enabled);
  for (let size = -1; size !== out.size;) {
    size = out.size;
    for (const c of REGISTRY as readonly Collector[]) if (out.has(c.name)) for (const n of c.needs ?? []) out.add(n);
  }
  return new Set(REGISTRY.map((c): CollectorName => c.name).filter((n) => out.has(n)));
}
