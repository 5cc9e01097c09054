// The journey sorter's series (a node's events of one skb, or one untracked event) as columns:
// a series is a number, its fields typed arrays, so that the series the sorter remembers (open
// ones, and released ones for late events) are nothing for the collector to move or mark.
//
// A series is kept while something holds it, counted in `refs`: its node's tables (a generation,
// or being the node's last series), each fingerprint entry naming it, and its open journey. The
// sorter takes and drops those holds (journey-sorter.ts); a series nothing holds is freed, and
// its number is given to the next new series.
import { widened, widenedFreeList } from './columns.js';

export const TRACKED = 1;
export const FP_SET = 2;

export class SeriesTable {
  private cap = 0;
  private free = new Int32Array(0);
  private nFree = 0;
  node = new Int32Array(0);
  flags = new Uint8Array(0);
  /** skb-tracking's orig_head and timestamp (tracked series), as int32 halves. */
  headHi = new Int32Array(0);
  headLo = new Int32Array(0);
  trackHi = new Int32Array(0);
  trackLo = new Int32Array(0);
  /** An untracked series' number among the sorter's (its journey id `node/uN`). */
  untracked = new Float64Array(0);
  /**
   * Monotonic time of its first event, from its node's anchor; NaN when that event had no
   * timestamp, its time then being the node's latest (firstMono).
   */
  firstDm = new Float64Array(0);
  readonly firstMono = new Map<number, bigint>();
  /** Its open journey, and the released journey it was part of (later events are late); -1: none. */
  journey = new Int32Array(0);
  released = new Int32Array(0);
  /** The next series of its open journey (-1: the last). */
  nextInJourney = new Int32Array(0);
  /** packet.len when last fingerprinted (-1: never), and the last fingerprint's key. */
  lastLen = new Int32Array(0);
  fpLo = new Int32Array(0);
  fpHi = new Int32Array(0);
  /** Highest innermost TTL seen (-1: none): the earlier hop has the higher one. */
  maxTtl = new Int16Array(0);
  refs = new Int32Array(0);
  /** Series in use. */
  live = 0;

  constructor(capacity = 4096) {
    this.grow(capacity);
  }

  /** A new series, held by nothing yet. */
  alloc(node: number, tracked: boolean, untracked: number, firstDm: number): number {
    if (this.nFree === 0) this.grow(this.cap * 2);
    const s = this.free[--this.nFree] as number;
    this.node[s] = node;
    this.flags[s] = tracked ? TRACKED : 0;
    this.untracked[s] = untracked;
    this.firstDm[s] = firstDm;
    this.journey[s] = -1;
    this.released[s] = -1;
    this.nextInJourney[s] = -1;
    this.lastLen[s] = -1;
    this.maxTtl[s] = -1;
    this.refs[s] = 0;
    this.live++;
    return s;
  }

  /** Frees a series nothing holds any more (the caller lets go of its released journey). */
  release(s: number): void {
    this.firstMono.delete(s);
    this.free[this.nFree++] = s;
    this.live--;
  }

  private grow(cap: number): void {
    const old = this.cap;
    this.node = widened(this.node, cap);
    this.flags = widened(this.flags, cap);
    this.headHi = widened(this.headHi, cap);
    this.headLo = widened(this.headLo, cap);
    this.trackHi = widened(this.trackHi, cap);
    this.trackLo = widened(this.trackLo, cap);
    this.untracked = widened(this.untracked, cap);
    this.firstDm = widened(this.firstDm, cap);
    this.journey = widened(this.journey, cap);
    this.released = widened(this.released, cap);
    this.nextInJourney = widened(this.nextInJourney, cap);
    this.lastLen = widened(this.lastLen, cap);
    this.fpLo = widened(this.fpLo, cap);
    this.fpHi = widened(this.fpHi, cap);
    this.maxTtl = widened(this.maxTtl, cap);
    this.refs = widened(this.refs, cap);
    ({ free: this.free, nFree: this.nFree } = widenedFreeList(this.free, this.nFree, old, cap));
    this.cap = cap;
  }
}
