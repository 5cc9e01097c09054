// The collectors, in the order -c auto lists them: one line per collector (agent/README.md,
// "Adding a collector"). The session finds every collector here.
import type { Collector } from './collector.js';
import { ct } from './ct/index.js';
import { dev } from './dev/index.js';
import { nft, type NftOptions } from './nft/index.js';
import { ns } from './ns/index.js';
import { ovs, type OvsOptions } from './ovs/index.js';
import { skb, type SkbOptions } from './skb/index.js';
import { skbDrop } from './skb-drop/index.js';
import { skbTracking } from './skb-tracking/index.js';

export const REGISTRY = [skbTracking, skb, skbDrop, dev, ns, ct, nft, ovs] as const;

export type CollectorName = (typeof REGISTRY)[number]['name'];

/** Collector names, in registry order. */
export const COLLECTOR_NAMES: readonly CollectorName[] = REGISTRY.map((c) => c.name);

/** The session options collectors read, besides the session's own. */
export type CollectorOptions = SkbOptions & NftOptions & OvsOptions;

export function collector(name: CollectorName): Collector {
  return REGISTRY.find((c) => c.name === name) as Collector;
}

/** A name users give (-c), checked. */
export function isCollectorName(name: string): name is CollectorName {
  return REGISTRY.some((c) => c.name === name);
}
