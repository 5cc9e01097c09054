// The collectors a trace may name: the agent's registry, generated into gen/collector-names.ts
// by agent/gen-collector-names.mjs, which writes the CRDs' `collectors` enum from the same list.
import { COLLECTOR_NAMES, HOST_WIDE_COLLECTOR_NAMES } from './gen/collector-names.js';
import type { TraceResourceSpec } from './gen/trace-types.js';

export { COLLECTOR_NAMES };
export type CollectorName = (typeof COLLECTOR_NAMES)[number];

export const isCollectorName = (name: string): name is CollectorName =>
  (COLLECTOR_NAMES as readonly string[]).includes(name);

/**
 * Collectors that see more than packets of a trace's pods: the host's processes (USDT in
 * ovs-vswitchd) or datapath-wide state. Only a ClusterTrace may ask for them.
 */
export const HOST_WIDE_COLLECTORS: ReadonlySet<CollectorName> = new Set<CollectorName>(HOST_WIDE_COLLECTOR_NAMES);

// The CRDs' enum and this list, both ways: a name one has and the other lacks does not compile
// (both are generated from the registry; this catches a generator run halfway).
type CrdCollector = NonNullable<TraceResourceSpec['collectors']>[number];
const _everyNameInCrd: readonly CrdCollector[] = COLLECTOR_NAMES;
const _everyCrdNameHere: [Exclude<CrdCollector, CollectorName>] extends [never] ? true : never = true;
