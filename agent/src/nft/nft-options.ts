// When `auto` starts the nft collector (--nft-verdicts itself is @retrace/spec's parseVerdicts).
import { kernelCheck, type CollectorCheck } from '../collectors.js';
import { hasNftraceRule } from './nftrace-table.js';

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
