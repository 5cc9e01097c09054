// The collectors a trace may name. The agent runs exactly these (a test checks its registry
// against this list) and the CRDs' `collectors` enum lists them (checked below, at compile time).
import type { TraceResourceSpec } from './gen/trace-types.js';

export const COLLECTOR_NAMES = ['skb-tracking', 'skb', 'skb-drop', 'dev', 'ns', 'ct', 'nft', 'ovs'] as const;
export type CollectorName = (typeof COLLECTOR_NAMES)[number];

export const isCollectorName = (name: string): name is CollectorName =>
  (COLLECTOR_NAMES as readonly string[]).includes(name);

/**
 * Collectors that see more than packets of a trace's pods: the host's processes (USDT in
 * ovs-vswitchd) or datapath-wide state. Only a ClusterTrace may ask for them.
 */
export const HOST_WIDE_COLLECTORS: ReadonlySet<CollectorName> = new Set<CollectorName>(['ovs']);

// The CRDs' enum and this list, both ways: a name one has and the other lacks does not compile.
type CrdCollector = NonNullable<TraceResourceSpec['collectors']>[number];
const _everyNameInCrd: readonly CrdCollector[] = COLLECTOR_NAMES;
const _everyCrdNameHere: [Exclude<CrdCollector, CollectorName>] extends [never] ? true : never = true;
