// The tracking tables are set-associative caches (bpf/include/track_table.bpf.h): what a user
// relies on is that an id is kept while its packet is followed, that a full set gives up its
// least recently seen entry rather than refusing the new packet, and that giving up an entry
// still in use is counted. Driven one operation at a time through bpf/tests/track_table.bpf.c.
import { BpfObject, bpfObjectPath } from '@retrace/ebpf-loader';

const FIND = 1n;
const INSERT = 2n;
const DELETE = 3n;
const LOST = 0n;
const UPDATED = 1n;
const ADDED = 2n;
const SET_BITS = 14n;
const SECOND = 1_000_000_000n;

/** The set a key lands in (track_set_of). */
const setOf = (key: bigint): bigint => ((key * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn) >> (64n - SET_BITS);

/** `n` kernel-like addresses (64-byte aligned) that all land in one set. */
function sameSet(n: number, from = 0xffff888100000000n): bigint[] {
  const want = setOf(from);
  const out: bigint[] = [];
  for (let k = from; out.length < n; k += 64n) if (setOf(k) === want) out.push(k);
  return out;
}

let obj: BpfObject;
beforeAll(() => {
  obj = BpfObject.open(bpfObjectPath('tests/track_table'));
  obj.load();
});
afterAll(() => obj.close());

function run(op: bigint, key: bigint, now = 0n): { result: bigint; origHead: bigint } {
  const v = Buffer.alloc(40);
  v.writeBigUInt64LE(op, 0);
  v.writeBigUInt64LE(key, 8);
  v.writeBigUInt64LE(now, 16);
  obj.map('op').update(Buffer.alloc(4), v);
  obj.program('track_op').testRun(Buffer.alloc(64));
  const r = obj.map('op').lookup(Buffer.alloc(4));
  if (!r) throw new Error('no result');
  return { result: r.readBigUInt64LE(24), origHead: r.readBigUInt64LE(32) };
}
const find = (key: bigint): boolean => run(FIND, key).result === 1n;
const evictions = (): bigint => obj.map('track_evictions').lookup(Buffer.alloc(4))?.readBigUInt64LE(0) ?? 0n;

test('keys of one set are all kept up to its ways; a lookup gives the entry of its own key', () => {
  const keys = sameSet(4, 0xffff888110000000n);
  for (const [i, k] of keys.entries()) expect(run(INSERT, k, 100n + BigInt(i)).result).toBe(ADDED);
  for (const k of keys) expect(run(FIND, k)).toEqual({ result: 1n, origHead: k });
  expect(find(keys[0]! + 64n)).toBe(false);
});

test('a full set gives its least recently seen entry to a new key, and counts it when that entry was recent', () => {
  const [a, b, c, d, e, f] = sameSet(6, 0xffff888120000000n) as [bigint, bigint, bigint, bigint, bigint, bigint];
  const before = evictions();
  for (const [i, k] of [a, b, c, d].entries()) run(INSERT, k, 10n * SECOND + BigInt(i));
  // a is refreshed (seen again): b is now the least recently seen
  expect(run(INSERT, a, 10n * SECOND + 10n).result).toBe(UPDATED);
  expect(run(INSERT, e, 10n * SECOND + 20n).result).toBe(ADDED);
  expect([a, b, c, d, e].map(find)).toEqual([true, false, true, true, true]);
  expect(evictions()).toBe(before + 1n); // b was seen 20 ns before: maybe still in flight
  // Two seconds later, c (the least recent) is stale: taken without counting.
  expect(run(INSERT, f, 12n * SECOND).result).toBe(ADDED);
  expect([a, c, d, e, f].map(find)).toEqual([true, false, true, true, true]);
  expect(evictions()).toBe(before + 1n);
});

test('a deleted key frees its way: the next key takes it and nothing is evicted', () => {
  const [a, b, c, d, e] = sameSet(5, 0xffff888130000000n) as [bigint, bigint, bigint, bigint, bigint];
  for (const k of [a, b, c, d]) run(INSERT, k, 50n * SECOND);
  const before = evictions();
  expect(run(DELETE, c).result).toBe(1n);
  expect(run(DELETE, c).result).toBe(0n);
  expect(find(c)).toBe(false);
  expect(run(INSERT, e, 50n * SECOND).result).toBe(ADDED);
  expect([a, b, d, e].map(find)).toEqual([true, true, true, true]);
  expect(evictions()).toBe(before);
});

test('keys of different sets do not disturb each other', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => 0xffff888200000000n + BigInt(i) * 4096n);
  const sets = new Map<bigint, number>();
  for (const k of keys) sets.set(setOf(k), (sets.get(setOf(k)) ?? 0) + 1);
  // addresses a page apart spread over the sets (none gets more than its 4 ways here)
  expect(Math.max(...sets.values())).toBeLessThanOrEqual(4);
  for (const k of keys) expect(run(INSERT, k, 99n * SECOND).result).not.toBe(LOST);
  expect(keys.every(find)).toBe(true);
  for (const k of keys.filter((_, i) => i % 2)) run(DELETE, k);
  expect(keys.map(find)).toEqual(keys.map((_, i) => i % 2 === 0));
});
