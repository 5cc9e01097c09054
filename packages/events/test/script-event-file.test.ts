// The scripting API (@retrace/events/script): a script opens what collect -o, sort -o or a
// rotated collection wrote and gets the same events retrace prints, as events or as series.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventFile,
  EventFileError,
  openEventFile,
  resolveInputSet,
  sectionOf,
  sectionsOf,
  type Event,
} from '../src/script/index.js';
import { fixturePath, readEvents, readFixture } from './helpers/fixtures.js';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-script-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of a rotated set: its startup event numbers it, then its events. */
function part(path: string, id: number | undefined, timestamps: number[]): void {
  const split = id === undefined ? '' : `,"split_file":{"id":${id},"policy":{"kind":"size","limit":1000}}`;
  const startup = `{"common":{"timestamp":1},"startup":{"retis_version":"v1.7.0","cmdline":"x"${split}}}`;
  const events = timestamps.map(
    (ts) => `{"common":{"timestamp":${ts}},"kernel":{"symbol":"s${ts}","probe_type":"kprobe"}}`,
  );
  writeFileSync(path, [startup, ...events, ''].join('\n'));
}

const stamps = (evs: Event[]): number[] => evs.filter((e) => e.kernel).map((e) => Number(e.common?.timestamp));

test('an unsorted file: its startup, every event in order, and its series sorted as retrace sort does', async () => {
  const file = await EventFile.open(fixturePath('test_events.jsonl'));
  expect(file.sorted).toBe(false);
  expect(file.startup?.retis_version).toBe('v1.6.0');
  expect(await all(file.events())).toEqual(readEvents('test_events.jsonl'));
  // Iterating again reads the file again: same events.
  expect(await all(file)).toEqual(readEvents('test_events.jsonl'));
  const series = await all(file.series());
  const expected = readFixture('test_events_sorted.jsonl').map((l) => (Array.isArray(l) ? l : [l]));
  const ids = (s: Event[][]): unknown => s.map((x) => x.map((e) => [e.common?.timestamp, e.tracking]));
  expect(ids(series)).toEqual(ids(expected));
});

test('a sorted file: series as stored, events flattened in order', async () => {
  const file = await openEventFile(fixturePath('test_events_sorted.jsonl'));
  expect(file.sorted).toBe(true);
  const lines = readFixture('test_events_sorted.jsonl');
  expect(await all(file.series())).toEqual(lines.map((l) => (Array.isArray(l) ? l : [l])));
  expect(await all(file.events())).toEqual(lines.flat());
});

test('sections are typed and listed by their file names', async () => {
  const file = await EventFile.open(fixturePath('test_events.jsonl'));
  const evs = await all(file.events());
  const tracked = evs.find((e) => e['skb-tracking']) as Event;
  expect(sectionsOf(tracked)).toEqual(expect.arrayContaining(['common', 'kernel', 'skb-tracking']));
  const st = sectionOf(tracked, 'skb-tracking');
  expect(typeof st?.orig_head).toBe('bigint'); // 64-bit values keep every bit
  expect(sectionOf(tracked, 'ovs')).toBeUndefined();
});

test('a rotated set is one input, in split id order, from the file named on', async () => {
  const base = join(dir, 'rot.data');
  part(`${base}.0`, 0, [10, 11]);
  part(`${base}.1`, 1, [20]);
  part(`${base}.2`, 2, [30, 31]);
  const whole = await EventFile.open(base);
  expect(whole.paths).toEqual([`${base}.0`, `${base}.1`, `${base}.2`]);
  const evs = await all(whole.events());
  expect(stamps(evs)).toEqual([10, 11, 20, 30, 31]);
  // Each file keeps its startup event, as retis's reader yields them.
  expect(evs.filter((e) => e.startup)).toHaveLength(3);
  expect(stamps(await all((await EventFile.open(`${base}.0`)).events()))).toEqual([10, 11, 20, 30, 31]);
  expect(stamps(await all((await EventFile.open(`${base}.1`)).events()))).toEqual([20, 30, 31]);
  expect((await EventFile.open(`${base}.1`, { rotation: false })).paths).toEqual([`${base}.1`]);
});

test('a set whose newest file keeps the plain name is ordered by id, not by name', async () => {
  const base = join(dir, 'live.data');
  part(base, 2, [30]);
  part(`${base}.1`, 1, [20]);
  part(`${base}.0`, 0, [10]);
  expect(resolveInputSet(base)).toEqual([`${base}.0`, `${base}.1`, base]);
  expect(resolveInputSet(`${base}.0`)).toEqual([`${base}.0`, `${base}.1`, base]);
});

test('files without split_file are read alone; several files given are read in that order', async () => {
  const a = join(dir, 'a.json');
  const b = join(dir, 'a.json.1');
  part(a, undefined, [1]);
  part(b, undefined, [2]);
  expect(resolveInputSet(a)).toEqual([a]);
  const both = await EventFile.open([b, a]);
  expect(stamps(await all(both.events()))).toEqual([2, 1]);
});

test('errors name the file and what is wrong', async () => {
  await expect(EventFile.open(join(dir, 'missing'))).rejects.toThrow(/cannot open events file .*missing: no such file/);
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, '');
  await expect(EventFile.open(empty)).rejects.toThrow(
    new EventFileError(`${empty} holds no events (empty file)`, empty),
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"common":{"timestamp":1}}\nnot json\n');
  const file = await EventFile.open(bad);
  await expect(all(file.events())).rejects.toThrow(new RegExp(`${bad}: line 2: not valid JSON`));
  await expect(EventFile.open('-')).rejects.toThrow(/not stdin/);
  await expect(EventFile.open(dir)).rejects.toThrow(EventFileError);
});
