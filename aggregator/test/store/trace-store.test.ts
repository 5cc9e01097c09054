// The store behind `retrace events`: what goes in comes back (with its journey), filtered per
// journey, within a size cap, across restarts and after a crash in the middle of a write.
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, type TraceSummary } from '@retrace/events';
import { TraceStore, journeySection, traceDirName, type StoreWarning } from '../../src/journeys/index.js';
import { T, dropped, ids, local, summary } from './store-journeys.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('events come back in order with their journey section, and the bytes the agent sent', () => {
  const store = TraceStore.open(dir);
  const j = dropped(1);
  store.append('default/ping', j);
  store.append('default/ping', local(2));
  const got = [...store.events('default/ping')];
  expect(got).toHaveLength(4);
  expect(got[2]?.event.journey).toEqual({ id: 'node-a/1', idx: 2, cluster_ts: T + 2n, late: false, nodes: 2 });
  expect(got[2]?.event['skb-drop']?.drop_reason).toBe('NETFILTER_DROP');
  expect(got[0]?.event.packet?.data).toBe(j.events[0]?.event.packet?.data);
  // The stored record is the original encoding with sections appended (protobuf merging).
  expect(Buffer.from(got[1]!.raw.subarray(0, j.events[1]!.raw.length))).toEqual(Buffer.from(j.events[1]!.raw));
  // What follows is the Journey section, byte for byte what the generic encoder makes of it.
  const section = encodeMessage('Journey', journeySection(j.events[1]!, j));
  expect(Buffer.from(got[1]!.raw.subarray(j.events[1]!.raw.length))).toEqual(
    Buffer.concat([Buffer.from([(17 << 3) | 2, 1, section.length]), section]),
  );
  // An event without a k8s section gets one saying which node it came from.
  expect(got[3]?.event.k8s).toEqual({ node: 'node-c' });
  expect(store.listTraces()).toEqual(['default/ping']);
  expect(store.storedBytes('default/ping')).toBeGreaterThan(0);
  expect([...store.events('no/such-trace')]).toEqual([]);
  store.close();
});

test('filters select whole journeys: by node, by pod, by drop reason, together', () => {
  const store = TraceStore.open(dir);
  store.append('t', dropped(1, 'NETFILTER_DROP'));
  store.append('t', dropped(2, 'NO_SOCKET'));
  store.append('t', local(3));
  // Dropped on node-b: the journey comes whole, with node-a's part before the drop.
  expect(ids(store, 't', { dropReason: 'NO_SOCKET' })).toEqual(['node-a/2#0', 'node-a/2#1', 'node-a/2#2']);
  expect(ids(store, 't', { node: 'node-c' })).toEqual(['node-c/3#0']);
  expect(ids(store, 't', { node: 'node-b' })).toHaveLength(6);
  expect(ids(store, 't', { pod: 'default/client-1' })).toEqual(['node-a/1#0', 'node-a/1#1', 'node-a/1#2']);
  expect(ids(store, 't', { pod: 'default/client-1', dropReason: 'NO_SOCKET' })).toEqual([]);
  expect(ids(store, 't', { pod: 'default/client-2', dropReason: 'NO_SOCKET', node: 'node-b' })).toHaveLength(3);
  expect(ids(store, 't', { node: 'node-z' })).toEqual([]);
  store.close();
});

test('past the size cap a node loses its own oldest segment; every event is kept, evicted or refused', () => {
  const store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 12_288 });
  for (let n = 0; n < 100; n++) store.append('t', dropped(n));
  const kept = [...store.events('t')];
  expect(store.storedBytes('t')).toBeLessThanOrEqual(12_288);
  expect(store.evicted('t')).toBeGreaterThan(0);
  expect(kept.length + store.evicted('t') + store.refused('t')).toBe(300);
  // What is left is the newest, still in order.
  const journeys = kept.map(({ event: e }) => Number(e.journey?.id.split('/')[1]));
  expect(journeys).toEqual([...journeys].sort((a, b) => a - b));
  expect(journeys.at(-1)).toBeGreaterThan(90);
  const files = readdirSync(join(dir, traceDirName('t'))).filter((f) => f.endsWith('.rec'));
  expect(files.length).toBeLessThanOrEqual(4);
  store.close();
  expect(() => TraceStore.open(dir, { segmentBytes: 8192, capBytes: 4096 })).toThrow(
    /capBytes \(4096\) must be at least segmentBytes/,
  );
  expect(() => TraceStore.open(dir, { segmentBytes: 4096, capBytes: 8192, totalCapBytes: 4096 })).toThrow(
    /totalCapBytes \(4096\) must be at least capBytes/,
  );
  expect(() => TraceStore.open(dir, { segmentBytes: 4096, capBytes: 8192, nodeFloorBytes: 9000 })).toThrow(
    /nodeFloorBytes must be a whole number of bytes from 0 to capBytes \(8192\), got 9000/,
  );
});

test('a restarted store has every trace, its events, summary and eviction count', () => {
  let store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 8192 });
  for (let n = 0; n < 40; n++) store.append('default/ping', dropped(n));
  store.append('other', local(1));
  store.saveSummary('default/ping', summary);
  store.saveState('cursors', [{ trace: 'default/ping', last_seq: 2n ** 63n }]);
  const before = ids(store, 'default/ping');
  const evicted = store.evicted('default/ping');
  expect(evicted).toBeGreaterThan(0);
  store.close();
  expect(() => store.append('other', local(2))).toThrow(/closed; open it again/);

  store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 8192 });
  expect(store.warnings).toEqual([]);
  expect(store.listTraces()).toEqual(['default/ping', 'other']);
  expect(ids(store, 'default/ping')).toEqual(before);
  expect(store.evicted('default/ping')).toBe(evicted);
  expect(store.summary('default/ping')).toEqual(summary);
  expect(store.state('cursors')).toEqual([{ trace: 'default/ping', last_seq: 2n ** 63n }]);
  // Filters work from the index rebuilt on open, and appends go on after what was there.
  expect(ids(store, 'default/ping', { node: 'node-b', dropReason: 'NETFILTER_DROP' })).toEqual(before);
  store.append('other', local(2));
  expect(ids(store, 'other')).toEqual(['node-c/1#0', 'node-c/2#0']);
  expect(ids(store, 'other', { node: 'node-c' })).toHaveLength(2);
  store.close();
});

test('a journey cut by a crash at the end of the last segment is reported with its file and offset, cut off, and nothing before it is lost', () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 5; n++) store.append('t', dropped(n));
  store.close();
  const seg = join(dir, traceDirName('t'), 'seg-00000001.rec');
  const size = statSync(seg).size;
  truncateSync(seg, size - 7); // the last journey's block loses its end

  const warnings: StoreWarning[] = [];
  const messages: string[] = [];
  store = TraceStore.open(dir, {
    onWarning: (m, w) => {
      messages.push(m);
      warnings.push(w);
    },
  });
  expect(warnings).toHaveLength(1);
  expect(warnings[0]?.file).toBe(seg);
  expect(messages[0]).toMatch(
    /seg-00000001\.rec at byte \d+: block cut short at the end of the last segment .* cut off \(the file now ends at \d+\)/,
  );
  const offset = warnings[0]?.offset ?? 0;
  expect(statSync(seg).size).toBe(offset);
  expect(ids(store, 't')).toHaveLength(12); // 5 journeys stored, the last one cut (one block, one checksum)
  expect(ids(store, 't').at(-1)).toBe('node-a/3#2');
  store.append('t', dropped(9));
  expect(ids(store, 't')).toHaveLength(15);
  store.close();
  expect(TraceStore.open(dir).warnings).toEqual([]); // repaired for good
});

test('trace names become safe directory names that cannot collide or escape', () => {
  expect(traceDirName('default/web')).toBe('default%2Fweb');
  expect(traceDirName('default_web')).not.toBe(traceDirName('default/web'));
  expect(traceDirName('../../etc')).toBe('%2E.%2F..%2Fetc'); // one name, not a path
  expect(traceDirName('x'.repeat(400)).length).toBeLessThanOrEqual(200);
  expect(() => traceDirName('')).toThrow(/a trace needs a name/);
  const store = TraceStore.open(dir);
  store.append('../../etc', local(1));
  expect(readdirSync(dir)).toEqual(['%2E.%2F..%2Fetc']);
  expect(store.listTraces()).toEqual(['../../etc']);
  store.close();
});

test('saves in the background are read back after a restart, and never replace a newer save', async () => {
  const store = TraceStore.open(dir);
  const summary = (events: bigint): TraceSummary =>
    ({ trace: 't', nodes: [], events, lost: 0n, drops: [] }) as unknown as TraceSummary;
  const waitRound = async (): Promise<void> => {
    while (!store.saveInBackground([], [])) await new Promise((r) => setTimeout(r, 2));
    // an empty round starts nothing: true means the previous one has been written
  };
  expect(store.saveInBackground([['t', summary(1n)]], [['cursors', { n: 7n }]])).toBe(true);
  // One round at a time: the next waits for this one.
  expect(store.saveInBackground([['t', summary(2n)]], [])).toBe(false);
  expect(store.summary('t')?.events).toBe(1n); // in memory at once
  await waitRound();
  // A synchronous save made while a background one is written wins.
  expect(store.saveInBackground([['t', summary(3n)]], [])).toBe(true);
  store.saveSummary('t', summary(4n));
  await waitRound();
  store.close();
  const again = TraceStore.open(dir);
  expect(again.summary('t')?.events).toBe(4n);
  expect(again.state('cursors')).toEqual({ n: 7n });
  expect(readdirSync(join(dir, traceDirName('t'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  again.close();
});

test('writes in the thread pool: reads, a close and a restart right away see every event, intact', async () => {
  // The pool's threads (4 unless UV_THREADPOOL_SIZE says otherwise) are kept busy meanwhile, so
  // that the store's writes wait in its queue: what is read can only come from catching up.
  const threads = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const busy = Array.from(
    { length: threads },
    () => new Promise((r) => pbkdf2('retrace', 'salt', 400_000, 32, 'sha256', r)),
  );
  const store = TraceStore.open(dir, { segmentBytes: 8192, capBytes: 1 << 30 });
  const want: string[] = [];
  for (let n = 0; n < 200; n++) {
    store.append('t', dropped(n));
    want.push(`node-a/${n}#0`, `node-a/${n}#1`, `node-a/${n}#2`);
    if (n % 7 === 0) store.flush(); // handed to the pool, not waited for
    if (n % 50 === 49) expect(ids(store, 't')).toEqual(want);
  }
  store.flush();
  store.close(); // with writes still in the pool
  const again = TraceStore.open(dir);
  expect(again.warnings).toEqual([]);
  expect(ids(again, 't')).toEqual(want);
  again.close();
  await Promise.all(busy);
  await new Promise((r) => setTimeout(r, 100)); // the pool's writes land: the same bytes again
  const third = TraceStore.open(dir);
  expect(third.warnings).toEqual([]);
  expect(ids(third, 't')).toEqual(want);
  third.close();
});

test('rollBack returns a store to a checkpoint: segments cut back to their synced size, newer ones removed, all readable', () => {
  let store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 1 << 20 });
  for (let n = 0; n < 21; n++) store.append('t', dropped(n)); // the last segment has room left
  store.sync();
  const checkpoint = store.extents();
  const before = ids(store, 't');
  for (let n = 20; n < 50; n++) store.append('t', dropped(n));
  store.append('other', dropped(99)); // not in the checkpoint: left alone
  store.close();
  const done = TraceStore.rollBack(dir, checkpoint);
  expect(done.some((d) => /bytes appended after the checkpoint removed/.test(d))).toBe(true);
  expect(done.some((d) => /removed \(started after the checkpoint\)/.test(d))).toBe(true);
  const tdir = join(dir, traceDirName('t'));
  expect(readdirSync(tdir).filter((f) => f.endsWith('.rec'))).toEqual(checkpoint['t']?.map((e) => e.file));
  for (const e of checkpoint['t'] ?? []) expect(statSync(join(tdir, e.file)).size).toBe(e.bytes);
  store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 1 << 20 });
  expect(store.warnings).toEqual([]);
  expect(ids(store, 't')).toEqual(before);
  expect(ids(store, 'other')).toHaveLength(3);
  // Appends go on after the checkpoint's end, and read back after a restart.
  store.append('t', dropped(70));
  store.close();
  store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 1 << 20 });
  expect(store.warnings).toEqual([]);
  expect(ids(store, 't')).toEqual([...before, 'node-a/70#0', 'node-a/70#1', 'node-a/70#2']);
  store.close();
});
