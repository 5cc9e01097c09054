// --nft-verdicts and when `auto` starts the nft collector.
import { commaList } from '../comma-list.js';
import { CollectorError } from '../errors.js';
import { kernelCheck, type CollectorCheck } from '../collectors.js';
import { hasNftraceRule } from './nftrace-table.js';
import { VERDICT_NAMES } from './trace-message.js';

/** `drop,accept` (default), `all`, or any of VERDICT_NAMES. */
export function parseVerdicts(list: string | undefined): Set<string> {
  const names = commaList(list ?? 'drop,accept');
  const bad = names.filter((n) => n !== 'all' && !VERDICT_NAMES.includes(n));
  if (bad.length)
    throw new CollectorError(`unknown --nft-verdicts ${bad.join(', ')}; known: all, ${VERDICT_NAMES.join(', ')}`);
  return new Set(names);
}

/**
 * The kernel check, plus: `auto` starts nft only when it can trace something, that is when
 * retrace may add its nftrace table or a rule in this namespace already sets nftrace.
 */
export function nftCheck(allowSystemChanges: boolean): CollectorCheck & { auto?: CollectorCheck } {
  const check: CollectorCheck & { auto?: CollectorCheck } = (c) => kernelCheck(c);
  check.auto = (c) => {
    const why = kernelCheck(c);
    if (why || c !== 'nft' || allowSystemChanges) return why;
    return hasNftraceRule('/proc/self/ns/net')
      ? undefined
      : 'no rule sets nftrace here; use --allow-system-changes or add one (retrace -c nft says how)';
  };
  return check;
}
