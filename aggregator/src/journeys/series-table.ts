// The journey sorter's series (a node's events of one skb, or one untracked event) as columns:
// a series is a number, its fields typed arrays, so that the series the sorter remembers (open
// ones, and released ones for late events) are nothing for the collector to move or mark.
//
// A series is kept while something holds it, counted in `refs`: its node's tables (a generation,
// or being the node's last series), each fingerprint entry naming it, and its open journey. The
// sorter takes and drops those holds (journey-sorter.ts); a series nothing holds is freed, and
// its number is given to the next new series.

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
    const i32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.node = i32(this.node);
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
    this.headHi = i32(this.headHi);
    this.headLo = i32(this.headLo);
    this.trackHi = i32(this.trackHi);
    this.trackLo = i32(this.trackLo);
    this.untracked = f64(this.untracked);
    this.firstDm = f64(this.firstDm);
    this.journey = i32(this.journey);
    this.released = i32(this.released);
    this.nextInJourney = i32(this.nextInJourney);
    this.lastLen = i32(this.lastLen);
    this.fpLo = i32(this.fpLo);
    this.fpHi = i32(this.fpHi);
    const ttl = new Int16Array(cap);
    ttl.set(this.maxTtl);
    this.maxTtl = ttl;
    this.refs = i32(this.refs);
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.nFree));
    for (let i = cap - 1; i >= old; i--) free[this.nFree++] = i;
    this.free = free;
    this.cap = cap;
  }
}
