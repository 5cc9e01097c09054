// --nft-verdicts (and a Trace's nftVerdicts): which nftables verdicts make events.
import { commaList } from './comma-list.js';
import { CollectorError } from './errors.js';
import type { TraceResourceSpec } from './gen/trace-types.js';

/** Every verdict name --nft-verdicts accepts (besides `all`): nft's own, then netfilter's. */
export const VERDICT_NAMES = [
  'continue',
  'break',
  'jump',
  'goto',
  'return',
  'drop',
  'accept',
  'stolen',
  'queue',
  'repeat',
];

/** `drop,accept` (default), `all`, or any of VERDICT_NAMES. */
export function parseVerdicts(list: string | undefined): Set<string> {
  const names = commaList(list ?? 'drop,accept');
  const bad = names.filter((n) => n !== 'all' && !VERDICT_NAMES.includes(n));
  if (bad.length)
    throw new CollectorError(`unknown --nft-verdicts ${bad.join(', ')}; known: all, ${VERDICT_NAMES.join(', ')}`);
  return new Set(names);
}

export type NftVerdict = NonNullable<TraceResourceSpec['nftVerdicts']>[number];

/**
 * The verdicts a Trace may ask for (the CRDs' enum): nft's own, drop and accept. netfilter's
 * stolen, queue and repeat are for local runs only.
 */
export const CLUSTER_NFT_VERDICTS = [
  'accept',
  'drop',
  'continue',
  'jump',
  'goto',
  'return',
  'break',
] as const satisfies readonly NftVerdict[];

export const isClusterNftVerdict = (v: string): v is NftVerdict =>
  (CLUSTER_NFT_VERDICTS as readonly string[]).includes(v);

// Every verdict of the CRDs' enum is here (the reverse holds by `satisfies`).
const _everyCrdVerdictHere: [Exclude<NftVerdict, (typeof CLUSTER_NFT_VERDICTS)[number]>] extends [never]
  ? true
  : never = true;
