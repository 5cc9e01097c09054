// A binary min-heap keyed by a bigint: the journey sorter releases journeys in the order of their
// latest event, and needs the smallest one at every watermark step. Keys are read through a
// function so that the items themselves carry them (no wrapper object per entry).

export class BigIntMinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly key: (item: T) => bigint) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    const k = this.key(item);
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as T;
      if (this.key(p) <= k) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    const k = this.key(last);
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      let mk = this.key(a[l] as T);
      if (r < n) {
        const rk = this.key(a[r] as T);
        if (rk < mk) {
          m = r;
          mk = rk;
        }
      }
      if (k <= mk) break;
      a[i] = a[m] as T;
      i = m;
    }
    a[i] = last;
    return top;
  }
}
