// The journey sorter's memory of packet fingerprints: which series showed a fingerprint first,
// for as long as another node's part of the same packet may still come (the stitching window
// behind the watermark), and at most as many as events may wait.
import { PairTable } from './pair-table.js';

interface Entry<S> {
  lo: number;
  hi: number;
  series: S;
  ts: bigint;
}

export class FingerprintWindow<S> {
  /** Fingerprint key -> the first series that showed it (within the stitching window). */
  private readonly table = new PairTable<Entry<S>>(16_384);
  private queue: Entry<S>[] = [];
  private head = 0;

  constructor(
    private readonly windowNs: bigint,
    private readonly maxEntries: number,
  ) {}

  /**
   * The series that showed fingerprint (lo, hi) within the window of `ts`; when none did,
   * `series` is remembered as showing it, and fingerprints seen before `expiry` are forgotten.
   */
  match(series: S, lo: number, hi: number, ts: bigint, expiry: bigint): S | undefined {
    const e = this.table.get(lo, hi);
    const d = e === undefined ? 0n : e.ts - ts;
    if (e !== undefined && d <= this.windowNs && -d <= this.windowNs) return e.series;
    const entry: Entry<S> = { lo, hi, series, ts };
    this.table.set(lo, hi, entry);
    this.queue.push(entry);
    this.expire(expiry);
    return undefined;
  }

  /** Forgets fingerprints seen before `expiry`, and the oldest past the bound. */
  private expire(expiry: bigint): void {
    const q = this.queue;
    while (this.head < q.length) {
      const e = q[this.head] as Entry<S>;
      if (e.ts >= expiry && q.length - this.head <= this.maxEntries) break;
      this.table.delete(e.lo, e.hi, e);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }
}
