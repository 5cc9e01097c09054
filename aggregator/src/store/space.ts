// Room in the store: capBytes per trace, totalCapBytes across traces, and each node's share of a
// trace (node-quota.ts). Each record is charged to the node that sent it; a node past its share
// has its newest events refused rather than anyone else's evicted, and the trace's oldest segment
// goes only when every node with events in it is past its share (a node's own rolling window).
import type { NodeQuota } from './node-quota.js';
import type { StoreLimits } from './options.js';

/** What the space of one trace is made of. */
export interface TraceSpace {
  readonly quota: NodeQuota;
  /** Bytes of the trace's segments. */
  readonly bytes: number;
  /** Evicts the trace's oldest segment if it is not the last and its nodes are all past their share. */
  evictOldest(): boolean;
}

export class StoreSpace {
  /** Bytes of every trace's segments. */
  totalBytes = 0;

  constructor(readonly limits: StoreLimits) {}

  /** Bytes `sender` may add to `t` without a closer look: within its share and both caps. */
  room(t: TraceSpace, sender: number, mine: number, added: number): number {
    return Math.min(
      t.quota.share() - t.quota.stored(sender) - mine,
      this.limits.capBytes - t.bytes - added,
      this.limits.totalCapBytes - this.totalBytes - added,
    );
  }

  /**
   * Whether `size` more bytes of `sender` may be stored in `t` (`mine` of it and `added` in all
   * already are, in this journey): within its share, the trace's cap and the store's. Past them,
   * the trace's oldest segment is evicted if every node with events in it is past its share;
   * otherwise the event is refused.
   */
  admit(t: TraceSpace, sender: number, size: number, mine: number, added: number): boolean {
    const q = t.quota;
    if (!q.fits(sender, size, mine)) {
      q.refused(sender);
      while (!q.fits(sender, size, mine)) if (!t.evictOldest()) return false;
    }
    while (
      t.bytes + added + size > this.limits.capBytes ||
      this.totalBytes + added + size > this.limits.totalCapBytes
    ) {
      // A node the cap stops is at its limit too (its share less what no node is charged for:
      // segment and block headers): its oldest may go for it, as when past its share.
      q.refused(sender);
      if (!t.evictOldest()) return false;
    }
    return true;
  }
}
