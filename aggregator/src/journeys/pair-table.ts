// A hash table keyed by two 32-bit integers (a fingerprint's two hashes), for the sorter's
// stitching lookups. A Map keyed by 53-bit numbers keeps each key as a separate heap number, so
// that a lookup in a table of tens of thousands of entries misses the cache on the key as well as
// on the entry; here the keys sit in typed arrays and are compared in place (about 3 times
// faster here). (For skb addresses, bigint-keyed Maps win: splitting a bigint costs more.) Open addressing, linear probing, deletion by shifting back (no
// tombstones), growth at half full.

export class PairTable<T> {
  private lo: Int32Array;
  private hi: Int32Array;
  private used: Uint8Array;
  private values: (T | undefined)[];
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.values = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get(lo: number, hi: number): T | undefined {
    const mask = this.mask;
    for (let i = slotOf(lo, hi, mask); ; i = (i + 1) & mask) {
      if (this.used[i] === 0) return undefined;
      if (this.lo[i] === (lo | 0) && this.hi[i] === (hi | 0)) return this.values[i];
    }
  }

  set(lo: number, hi: number, value: T): void {
    this.put(lo, hi, value);
  }

  /** Sets the value of (lo, hi); returns the value it replaced (undefined when new). */
  put(lo: number, hi: number, value: T): T | undefined {
    const mask = this.mask;
    let i = slotOf(lo, hi, mask);
    for (; this.used[i] !== 0; i = (i + 1) & mask) {
      if (this.lo[i] === (lo | 0) && this.hi[i] === (hi | 0)) {
        const was = this.values[i];
        this.values[i] = value;
        return was;
      }
    }
    this.used[i] = 1;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.values[i] = value;
    if (++this.count * 2 > mask) this.grow();
    return undefined;
  }

  /** Removes the entry (only if its value is `expected`, when given); whether it did. */
  delete(lo: number, hi: number, expected?: T): boolean {
    const mask = this.mask;
    let i = slotOf(lo, hi, mask);
    for (; ; i = (i + 1) & mask) {
      if (this.used[i] === 0) return false;
      if (this.lo[i] === (lo | 0) && this.hi[i] === (hi | 0)) break;
    }
    if (expected !== undefined && this.values[i] !== expected) return false;
    // Shift back the entries after it that would no longer be found past the hole.
    let hole = i;
    for (let j = (i + 1) & mask; this.used[j] !== 0; j = (j + 1) & mask) {
      const home = slotOf(this.lo[j] as number, this.hi[j] as number, mask);
      // j's entry may move to the hole when its home is not in (hole, j] (cyclically).
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      this.lo[hole] = this.lo[j] as number;
      this.hi[hole] = this.hi[j] as number;
      this.values[hole] = this.values[j];
      hole = j;
    }
    this.used[hole] = 0;
    this.values[hole] = undefined;
    this.count--;
    return true;
  }

  clear(): void {
    if (this.count === 0) return;
    this.used.fill(0);
    this.values.fill(undefined);
    this.count = 0;
  }

  /** Calls `fn` for each entry (do not modify the table meanwhile). */
  forEach(fn: (value: T, lo: number, hi: number) => void): void {
    for (let i = 0; i <= this.mask; i++)
      if (this.used[i] !== 0) fn(this.values[i] as T, this.lo[i] as number, this.hi[i] as number);
  }

  private grow(): void {
    const { lo, hi, used, values } = this;
    const cap = (this.mask + 1) * 2;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.values = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < used.length; i++) if (used[i] !== 0) this.set(lo[i] as number, hi[i] as number, values[i] as T);
  }
}

/** murmur3's finaliser over both halves: neighbouring addresses land far apart. */
function slotOf(lo: number, hi: number, mask: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}
