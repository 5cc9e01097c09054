// A hash table from two 32-bit integers (a fingerprint's two hashes, an skb address's halves) to
// a number (a series, a fingerprint entry), for the sorter's lookups. Keys and values sit
// together in one typed array (a slot is [lo, hi, value, used]: one cache line holds four), and
// are compared in place: no object, no heap number per entry, nothing for the collector. Open
// addressing, linear probing, deletion by shifting back (no tombstones), growth at half full.

/** A slot's ints: lo, hi, value, used. */
const STRIDE = 4;

export class PairTable {
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.slots = new Int32Array(cap * STRIDE);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of (lo, hi); -1 when there is none. */
  get(lo: number, hi: number): number {
    const s = this.slots;
    const mask = this.mask;
    lo |= 0;
    hi |= 0;
    for (let i = slotOf(lo, hi, mask); ; i = (i + 1) & mask) {
      const at = i * STRIDE;
      if (s[at + 3] === 0) return -1;
      if (s[at] === lo && s[at + 1] === hi) return s[at + 2] as number;
    }
  }

  set(lo: number, hi: number, value: number): void {
    this.put(lo, hi, value);
  }

  /** Sets the value (an int32 >= 0) of (lo, hi); returns the value it replaced (-1 when new). */
  put(lo: number, hi: number, value: number): number {
    const s = this.slots;
    const mask = this.mask;
    lo |= 0;
    hi |= 0;
    let i = slotOf(lo, hi, mask);
    for (; s[i * STRIDE + 3] !== 0; i = (i + 1) & mask) {
      const at = i * STRIDE;
      if (s[at] === lo && s[at + 1] === hi) {
        const was = s[at + 2] as number;
        s[at + 2] = value;
        return was;
      }
    }
    const at = i * STRIDE;
    s[at] = lo;
    s[at + 1] = hi;
    s[at + 2] = value;
    s[at + 3] = 1;
    if (++this.count * 2 > mask) this.grow();
    return -1;
  }

  /** Removes the entry (only if its value is `expected`, when given); whether it did. */
  delete(lo: number, hi: number, expected?: number): boolean {
    const s = this.slots;
    const mask = this.mask;
    lo |= 0;
    hi |= 0;
    let i = slotOf(lo, hi, mask);
    for (; ; i = (i + 1) & mask) {
      const at = i * STRIDE;
      if (s[at + 3] === 0) return false;
      if (s[at] === lo && s[at + 1] === hi) break;
    }
    if (expected !== undefined && s[i * STRIDE + 2] !== expected) return false;
    // Shift back the entries after it that would no longer be found past the hole.
    let hole = i;
    for (let j = (i + 1) & mask; s[j * STRIDE + 3] !== 0; j = (j + 1) & mask) {
      const at = j * STRIDE;
      const home = slotOf(s[at] as number, s[at + 1] as number, mask);
      // j's entry may move to the hole when its home is not in (hole, j] (cyclically).
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      s.copyWithin(hole * STRIDE, at, at + STRIDE);
      hole = j;
    }
    s[hole * STRIDE + 3] = 0;
    this.count--;
    return true;
  }

  clear(): void {
    if (this.count === 0) return;
    this.slots.fill(0);
    this.count = 0;
  }

  /** Calls `fn` for each entry (do not modify the table meanwhile). */
  forEach(fn: (value: number, lo: number, hi: number) => void): void {
    const s = this.slots;
    for (let at = 0; at < s.length; at += STRIDE)
      if (s[at + 3] !== 0) fn(s[at + 2] as number, s[at] as number, s[at + 1] as number);
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = new Int32Array(cap * STRIDE);
    this.mask = cap - 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += STRIDE)
      if (old[at + 3] !== 0) this.put(old[at] as number, old[at + 1] as number, old[at + 2] as number);
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
