// Growing the typed-array columns of the sorter's tables (events, series, journeys): a column
// copied into a longer one, and a free list that takes the new slots.

type Column = Uint8Array | Int16Array | Int32Array | Float64Array;

/** `a` copied into a column of `cap` entries of the same type, the rest zero. */
export function widened<T extends Column>(a: T, cap: number): T {
  const b = new (a.constructor as new (length: number) => T)(cap);
  b.set(a);
  return b;
}

/**
 * A free list of `cap` slots holding the `nFree` free slots of `free` and then every new slot
 * from `old` to `cap`, so that the lowest is taken first. Returns the list and its count.
 */
export function widenedFreeList(
  free: Int32Array,
  nFree: number,
  old: number,
  cap: number,
): { free: Int32Array<ArrayBuffer>; nFree: number } {
  const out = new Int32Array(cap);
  out.set(free.subarray(0, nFree));
  let n = nFree;
  for (let i = cap - 1; i >= old; i--) out[n++] = i;
  return { free: out, nFree: n };
}
