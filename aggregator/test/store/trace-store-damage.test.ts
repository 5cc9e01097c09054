// Damaged files in a trace store, made for real on disk: a zeroed 4 KiB block, flipped bytes, a
// cut segment, unreadable trace.json and meta.json, a version 1 segment. Nothing valid is lost,
// nothing altered is served, every problem is reported with its file, offset and size.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { encodeMessage, type TraceSummary } from '@retrace/events';
import { journeySection } from '../../src/journeys/index.js';
import { TraceStore, traceDirName, type StoreWarning } from '../../src/store/index.js';
import { dropped, ids, local } from './store-journeys.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-store-damage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Opens the store, collecting its warnings (message and details). */
function reopen(opts = {}): { store: TraceStore; warnings: StoreWarning[]; messages: string[] } {
  const warnings: StoreWarning[] = [];
  const messages: string[] = [];
  const store = TraceStore.open(dir, {
    ...opts,
    onWarning: (m, w) => {
      messages.push(m);
      warnings.push(w);
    },
  });
  return { store, warnings, messages };
}

/** Overwrites bytes of a file in place. */
function overwrite(file: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** `after` is `before` with one run of consecutive entries taken out: how many. */
function removedRun(before: string[], after: string[]): number {
  let i = 0;
  while (i < after.length && after[i] === before[i]) i++;
  const lost = before.length - after.length;
  expect(after).toEqual([...before.slice(0, i), ...before.slice(i + lost)]);
  return lost;
}

const seg1 = (trace = 't'): string => join(dir, traceDirName(trace), 'seg-00000001.rec');

test('a zeroed 4 KiB block inside a segment: only the journeys it touched are lost, every one after it is kept', () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 600; n++) store.append('t', dropped(n));
  const before = ids(store, 't');
  store.close();
  const size = statSync(seg1()).size;
  expect(size).toBeGreaterThan(3 * 65536);
  overwrite(seg1(), 65536, new Uint8Array(4096));

  const { store: again, warnings, messages } = reopen();
  store = again;
  expect(warnings).toHaveLength(1);
  expect(messages[0]).toMatch(
    /seg-00000001\.rec at byte \d+: zeroed block \(4096 zero bytes from byte 65536\): \d+ bytes skipped, \d+ records lost; the records after them are kept/,
  );
  const w = warnings[0] as StoreWarning;
  expect(w.offset).toBeLessThanOrEqual(65536);
  expect(w.offset + (w.bytes ?? 0)).toBeGreaterThanOrEqual(65536 + 4096);
  const after = ids(store, 't');
  const lost = removedRun(before, after);
  expect(lost).toBe(w.records);
  expect(lost).toBeGreaterThan(0);
  expect(lost % 3).toBe(0); // whole journeys
  expect(lost).toBeLessThanOrEqual(3 * Math.ceil(4096 / 600 + 2));
  expect(after.at(-1)).toBe('node-a/599#2');
  expect(statSync(seg1()).size).toBe(size); // nothing cut, nothing rewritten
  // Appends go on after the damage, which is reported again on the next open, and stays.
  store.append('t', dropped(600));
  store.close();
  const third = reopen();
  expect(third.warnings).toHaveLength(1);
  expect(ids(third.store, 't')).toEqual([...after, 'node-a/600#0', 'node-a/600#1', 'node-a/600#2']);
  third.store.close();
});

test('16 flipped bytes inside a record: its journey is skipped with a checksum mismatch, never served altered', () => {
  let store = TraceStore.open(dir);
  const journeys = Array.from({ length: 100 }, (_, n) => dropped(n));
  for (const j of journeys) store.append('t', j);
  const before = ids(store, 't');
  store.close();
  const file = readFileSync(seg1());
  const target = journeys[40]?.events[1]?.raw as Uint8Array;
  const at = file.indexOf(Buffer.from(target));
  expect(at).toBeGreaterThan(0);
  overwrite(seg1(), at + 30, Buffer.alloc(16, 0xa5));

  const { store: again, warnings, messages } = reopen();
  store = again;
  expect(warnings).toHaveLength(1);
  expect(messages[0]).toMatch(/checksum mismatch: \d+ bytes skipped, 3 records lost; the records after them are kept/);
  const after = ids(store, 't');
  expect(removedRun(before, after)).toBe(3);
  expect(after.filter((id) => id.startsWith('node-a/40#'))).toEqual([]);
  // What is served is byte for byte what was appended.
  for (const { raw, event } of store.events('t')) {
    const n = Number(event.journey?.id.split('/')[1]);
    const original = journeys[n]?.events[event.journey?.idx ?? -1]?.raw as Uint8Array;
    expect(Buffer.from(raw.subarray(0, original.length))).toEqual(Buffer.from(original));
  }
  store.close();
});

test('bytes changed after the store opened: the read skips the journey and reports it, once', () => {
  let store = TraceStore.open(dir);
  const journeys = Array.from({ length: 30 }, (_, n) => dropped(n));
  for (const j of journeys) store.append('t', j);
  store.close();
  const { store: again, warnings } = reopen();
  store = again;
  expect(warnings).toEqual([]);
  const before = ids(store, 't');
  const at = readFileSync(seg1()).indexOf(Buffer.from(journeys[20]?.events[2]?.raw as Uint8Array));
  overwrite(seg1(), at + 10, Buffer.from([0xff ^ (readFileSync(seg1())[at + 10] as number)]));
  const after = ids(store, 't');
  expect(removedRun(before, after)).toBe(3);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]?.message).toMatch(/checksum mismatch on read .*: its 3 records skipped, not served/);
  expect(warnings[0]?.records).toBe(3);
  expect(ids(store, 't')).toEqual(after);
  expect(warnings).toHaveLength(1);
  // filters see the same
  expect(ids(store, 't', { node: 'node-b' })).toEqual(after);
  store.close();
});

test('a segment cut short that is not the last: its end is skipped and left in the file, the next segments are read', () => {
  let store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 1 << 20 });
  for (let n = 0; n < 60; n++) store.append('t', dropped(n));
  const before = ids(store, 't');
  store.close();
  expect(readdirSync(join(dir, traceDirName('t'))).filter((f) => f.endsWith('.rec')).length).toBeGreaterThan(2);
  const size = statSync(seg1()).size;
  truncateSync(seg1(), size - 7);
  const { store: again, warnings, messages } = reopen({ segmentBytes: 4096, capBytes: 1 << 20 });
  store = again;
  expect(warnings).toHaveLength(1);
  expect(messages[0]).toMatch(
    /seg-00000001\.rec at byte \d+: block cut short: the last \d+ bytes of the segment skipped, left in the file/,
  );
  expect(statSync(seg1()).size).toBe(size - 7);
  expect(removedRun(before, ids(store, 't'))).toBe(3);
  store.close();
});

test('zeroes at the end of the last segment (a crash): cut off and said so; the records before are all kept', () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 20; n++) store.append('t', dropped(n));
  const before = ids(store, 't');
  store.close();
  const size = statSync(seg1()).size;
  overwrite(seg1(), size, new Uint8Array(3000));
  const { store: again, warnings, messages } = reopen();
  store = again;
  expect(warnings).toHaveLength(1);
  expect(messages[0]).toMatch(
    /zeroed block at the end of the last segment .*: the last 3000 bytes, with no record after them, cut off/,
  );
  expect(statSync(seg1()).size).toBe(size);
  expect(ids(store, 't')).toEqual(before);
  store.close();
});

test('an unreadable trace.json is set aside, the trace found by its directory, and its segments appended to, not overwritten', () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 10; n++) store.append('default/ping', dropped(n));
  const before = ids(store, 'default/ping');
  store.close();
  const tdir = join(dir, traceDirName('default/ping'));
  writeFileSync(join(tdir, 'trace.json'), '{"name": "default/pi');
  const size = statSync(join(tdir, 'seg-00000001.rec')).size;

  const { store: again, warnings, messages } = reopen();
  store = again;
  expect(warnings).toHaveLength(1);
  expect(messages[0]).toMatch(
    /trace\.json at byte 0: unreadable \(.*\), set aside as trace\.json\.damaged-\S+; the trace is "default\/ping" \(from the directory's name\)/,
  );
  const aside = readdirSync(tdir).filter((f) => f.startsWith('trace.json.damaged-'));
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(tdir, aside[0] as string), 'utf8')).toBe('{"name": "default/pi');
  expect(JSON.parse(readFileSync(join(tdir, 'trace.json'), 'utf8'))).toMatchObject({ name: 'default/ping' });
  expect(store.listTraces()).toEqual(['default/ping']);
  expect(ids(store, 'default/ping')).toEqual(before);
  store.append('default/ping', dropped(10)); // the live trace goes on, in a segment of its own
  store.close();
  expect(statSync(join(tdir, 'seg-00000001.rec')).size).toBe(size);
  expect(existsSync(join(tdir, 'seg-00000002.rec'))).toBe(true);
  const third = reopen();
  expect(third.warnings).toEqual([]);
  expect(ids(third.store, 'default/ping')).toEqual([...before, 'node-a/10#0', 'node-a/10#1', 'node-a/10#2']);
  third.store.close();
});

test('a long (hashed) trace name with its trace.json lost: kept untouched until the trace appends, then all of it is read', () => {
  const name = `default/${'x'.repeat(300)}`;
  let store = TraceStore.open(dir, { segmentBytes: 4096, capBytes: 1 << 20 });
  for (let n = 0; n < 40; n++) store.append(name, dropped(n));
  const before = ids(store, name);
  store.close();
  const tdir = join(dir, traceDirName(name));
  const sizes = (): Record<string, number> =>
    Object.fromEntries(
      readdirSync(tdir)
        .filter((f) => f.endsWith('.rec'))
        .map((f) => [f, statSync(join(tdir, f)).size]),
    );
  const segs = sizes();
  expect(Object.keys(segs).length).toBeGreaterThan(2);
  writeFileSync(join(tdir, 'trace.json'), 'garbage');

  const { store: again, messages } = reopen({ segmentBytes: 4096, capBytes: 1 << 20 });
  store = again;
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(/cannot be told from the directory's \(hashed\), so its segments are kept untouched/);
  expect(store.listTraces()).toEqual([]);
  expect(sizes()).toEqual(segs);
  // The live trace of that name claims its directory: what was stored is read, and kept.
  store.append(name, dropped(40));
  expect(ids(store, name)).toEqual([...before, 'node-a/40#0', 'node-a/40#1', 'node-a/40#2']);
  store.close();
  expect(Object.entries(sizes()).slice(0, Object.keys(segs).length)).toEqual(Object.entries(segs)); // untouched
  const third = reopen({ segmentBytes: 4096, capBytes: 1 << 20 });
  expect(third.warnings).toEqual([]);
  expect(ids(third.store, name)).toHaveLength(before.length + 3);
  third.store.close();
});

test('an unreadable meta.json is set aside and reported; the events stay, and the next summary is saved beside it', () => {
  let store = TraceStore.open(dir);
  store.append('t', dropped(1));
  store.saveSummary('t', { trace: 't', nodes: [], events: 3n, lost: 0n, drops: [] } as unknown as TraceSummary);
  store.close();
  const tdir = join(dir, traceDirName('t'));
  writeFileSync(join(tdir, 'meta.json'), '{"trace": ');
  const { store: again, messages } = reopen();
  store = again;
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(
    /meta\.json at byte 0: summary unreadable \(.*\), set aside as meta\.json\.damaged-\S+; counts start again from 0/,
  );
  expect(store.summary('t')).toBeUndefined();
  expect(ids(store, 't')).toHaveLength(3);
  store.saveSummary('t', { trace: 't', nodes: [], events: 0n, lost: 0n, drops: [] } as unknown as TraceSummary);
  store.close();
  const aside = readdirSync(tdir).filter((f) => f.startsWith('meta.json.damaged-'));
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(tdir, aside[0] as string), 'utf8')).toBe('{"trace": ');
  expect(existsSync(join(tdir, 'meta.json'))).toBe(true);
});

test('a version 1 segment (no checksums) is still read, and new events go to a new version 2 segment', () => {
  const tdir = join(dir, traceDirName('old'));
  mkdirSync(tdir, { recursive: true });
  writeFileSync(join(tdir, 'trace.json'), JSON.stringify({ name: 'old', evicted: 0 }));
  // As the store wrote before checksums: varint length, then the event with its journey section.
  const parts: Buffer[] = [];
  for (let n = 0; n < 3; n++) {
    const j = local(n);
    const e = j.events[0];
    if (!e) throw new Error('no event');
    const body = Buffer.concat([
      Buffer.from(e.raw),
      Buffer.from(encodeMessage('Event', { k8s: { node: 'node-c' }, journey: journeySection(e, j) })),
    ]);
    parts.push(Buffer.from([(body.length & 0x7f) | 0x80, body.length >> 7]), body);
  }
  writeFileSync(join(tdir, 'seg-00000001.rec'), Buffer.concat(parts));
  const { store, warnings } = reopen();
  expect(warnings).toEqual([]);
  expect(ids(store, 'old')).toEqual(['node-c/0#0', 'node-c/1#0', 'node-c/2#0']);
  store.append('old', local(3));
  store.close();
  expect(readFileSync(join(tdir, 'seg-00000002.rec')).subarray(0, 8).toString('latin1')).toBe('RTRCSEG\x02');
  const again = reopen();
  expect(again.warnings).toEqual([]);
  expect(ids(again.store, 'old')).toEqual(['node-c/0#0', 'node-c/1#0', 'node-c/2#0', 'node-c/3#0']);
  again.store.close();
});

test('the first 4 KiB of the last segment zeroed: the rest is read, senders charged by what events say, new events in a new segment', () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 100; n++) store.append('t', dropped(n));
  const before = ids(store, 't');
  store.close();
  const size = statSync(seg1()).size;
  overwrite(seg1(), 0, new Uint8Array(4096));
  const { store: again, warnings, messages } = reopen();
  store = again;
  expect(messages).toHaveLength(2);
  expect(messages[0]).toMatch(
    /seg-00000001\.rec at byte 0: segment header damaged \(zeroed block \(4096 zero bytes from byte 0\)\): \d+ bytes skipped, \d+ records lost; the records after them are read, and new ones go to a new segment/,
  );
  // the blocks naming the senders were at the start: node-a's and node-b's events are charged
  // to the node each says it comes from
  expect(messages[1]).toMatch(/some events' sender is not named .*: charged to the node each event names/);
  const after = ids(store, 't');
  expect(removedRun(before, after)).toBe(warnings[0]?.records);
  expect(after.at(-1)).toBe('node-a/99#2');
  expect(store.nodeUsage('t').map((u) => u.node)).toEqual(['node-a', 'node-b']);
  store.append('t', dropped(100));
  store.close();
  expect(statSync(seg1()).size).toBe(size);
  const third = reopen();
  expect(ids(third.store, 't')).toEqual([...after, 'node-a/100#0', 'node-a/100#1', 'node-a/100#2']);
  third.store.close();
});

test("an unreadable state file is set aside and reported, and the next save doesn't destroy it", () => {
  let store = TraceStore.open(dir);
  store.saveState('cursors', { n: 1n });
  store.close();
  const file = join(dir, '.state', 'cursors.json');
  writeFileSync(file, '{"n": {"$bigi');
  const { store: again, messages } = reopen();
  store = again;
  expect(store.state('cursors')).toBeUndefined();
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(/cursors\.json at byte 0: unreadable, set aside as .*cursors\.json\.damaged-\S+: /);
  store.saveState('cursors', { n: 2n });
  expect(store.state('cursors')).toEqual({ n: 2n });
  store.close();
  const aside = readdirSync(join(dir, '.state')).filter((f) => f.startsWith('cursors.json.damaged-'));
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(dir, '.state', aside[0] as string), 'utf8')).toBe('{"n": {"$bigi');
});
