// The journey sorter's memory of packet fingerprints: which series showed a fingerprint first,
// for as long as another node's part of the same packet may still come (the stitching window
// behind the watermark), and at most as many as events may wait. The entries are a ring of
// columns in the order they were made (which is the order they expire in), numbered; the table
// maps a fingerprint to its entry's number. Each entry holds its series (series numbers: `hold`
// and `drop` are the sorter's).
import { PairTable } from './pair-table.js';

/**
 * Entry numbers as the table keeps them (an int32): the live ones are far fewer apart than this,
 * so a number in the table is never another live entry's.
 */
const NUMBERS = 0x3fffffff;

export class FingerprintWindow {
  /** Fingerprint key -> the number of the entry of the first series that showed it (mod 2^30). */
  private readonly table = new PairTable(16_384);
  private lo = new Int32Array(1024);
  private hi = new Int32Array(1024);
  /** Cluster time (ns after the sorter's base) the fingerprint was seen at. */
  private ts = new Float64Array(1024);
  private series = new Int32Array(1024);
  private mask = 1023;
  /** Entries first..next-1 are live; entry k is at k & mask. */
  private first = 0;
  private next = 0;

  constructor(
    private readonly windowNs: number,
    private readonly maxEntries: number,
    private readonly hold: (series: number) => void,
    private readonly drop: (series: number) => void,
  ) {}

  /**
   * The series that showed fingerprint (lo, hi) within the window of `ts` (-1: none); when none
   * did, `series` is remembered as showing it, and fingerprints seen before `expiry` are forgotten.
   */
  match(series: number, lo: number, hi: number, ts: number, expiry: number): number {
    const e = this.table.get(lo, hi);
    if (e >= 0) {
      const i = e & this.mask;
      const d = (this.ts[i] as number) - ts;
      if (d <= this.windowNs && -d <= this.windowNs) return this.series[i] as number;
    }
    if (this.next - this.first > this.mask) this.grow();
    const k = this.next++;
    const i = k & this.mask;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.ts[i] = ts;
    this.series[i] = series;
    this.hold(series);
    this.table.set(lo, hi, k & NUMBERS);
    this.expire(expiry);
    return -1;
  }

  /** Forgets fingerprints seen before `expiry`, and the oldest past the bound. */
  private expire(expiry: number): void {
    const mask = this.mask;
    while (this.first < this.next) {
      const i = this.first & mask;
      if ((this.ts[i] as number) >= expiry && this.next - this.first <= this.maxEntries) break;
      this.table.delete(this.lo[i] as number, this.hi[i] as number, this.first & NUMBERS);
      this.first++;
      this.drop(this.series[i] as number);
    }
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const lo = new Int32Array(cap);
    const hi = new Int32Array(cap);
    const ts = new Float64Array(cap);
    const series = new Int32Array(cap);
    for (let k = this.first; k < this.next; k++) {
      const from = k & this.mask;
      const to = k & (cap - 1);
      lo[to] = this.lo[from] as number;
      hi[to] = this.hi[from] as number;
      ts[to] = this.ts[from] as number;
      series[to] = this.series[from] as number;
    }
    this.lo = lo;
    this.hi = hi;
    this.ts = ts;
    this.series = series;
    this.mask = cap - 1;
  }
}
