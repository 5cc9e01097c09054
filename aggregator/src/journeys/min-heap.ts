// A binary min-heap of items with number keys: the journey sorter releases journeys in the order
// of their latest event and needs the smallest one at every watermark step. The keys live in a
// Float64Array next to the items, so that sifting compares numbers in one block of memory
// instead of following a pointer to each item (and from it to a bigint) at every step.

export class KeyedMinHeap<T> {
  private items: (T | undefined)[] = [];
  private keys = new Float64Array(1024);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** The smallest key (Infinity when empty). */
  peekKey(): number {
    return this.n > 0 ? (this.keys[0] as number) : Infinity;
  }

  push(item: T, key: number): void {
    if (this.n === this.keys.length) {
      const bigger = new Float64Array(this.keys.length * 2);
      bigger.set(this.keys);
      this.keys = bigger;
    }
    const keys = this.keys;
    const items = this.items;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent] as number;
      if (pk <= key) break;
      keys[i] = pk;
      items[i] = items[parent];
      i = parent;
    }
    keys[i] = key;
    items[i] = item;
  }

  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const keys = this.keys;
    const items = this.items;
    const top = items[0];
    const n = --this.n;
    const key = keys[n] as number;
    const item = items[n];
    items[n] = undefined;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        let mk = keys[l] as number;
        if (r < n) {
          const rk = keys[r] as number;
          if (rk < mk) {
            m = r;
            mk = rk;
          }
        }
        if (key <= mk) break;
        keys[i] = mk;
        items[i] = items[m];
        i = m;
      }
      keys[i] = key;
      items[i] = item;
    }
    return top;
  }
}
