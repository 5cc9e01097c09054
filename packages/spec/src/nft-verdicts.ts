// --nft-verdicts (and a Trace's nftVerdicts): which nftables verdicts make events.
import { commaList } from './comma-list.js';
import { CollectorError } from './errors.js';

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
