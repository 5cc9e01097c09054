// retis's Python library on a rotated set (`collect -o F --out-rotate 1MB`: F.0, F.1, ...) and on
// the sorted file of that set: EventFile.with_rotation reads the files in order as one input,
// SeriesReader reads the sort's series, each event compared field by field with retrace's JSON.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, runRetrace } from '@retrace/e2e';
import type { Event } from '@retrace/events';
import { collectInNetns, readEvents, readSeries, tempDir } from './helpers.js';
import {
  DUMP_SCRIPT,
  compareEvent,
  dumpStandalone,
  parseDump,
  requireRetisLibrary,
  retracePython,
  type Comparison,
  type Dumped,
} from './retis-python-lib.js';

/** What retrace writes that retis has no field for (docs/scripting.md lists them). */
const RETRACE_ONLY = new Set<string>(['startup.retrace_version']);

const tmp = tempDir();
const base = join(tmp.dir, 'rot.data');
const sorted = join(tmp.dir, 'sorted.data');
let ns: Netns;
let files: string[];

beforeAll(() => {
  requireRetisLibrary();
  ns = Netns.create('rpyrot');
  collectInNetns(ns, 'ping -f -c 1500 127.0.0.1 >/dev/null', base, ['--out-rotate', '1MB']);
  files = readdirSync(tmp.dir)
    .filter((f) => f.startsWith('rot.data.'))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
    .map((f) => join(tmp.dir, f));
  expect(runRetrace(['sort', `${base}.0..`, '-o', sorted]).code).toBe(0);
}, 60_000);

afterAll(() => {
  ns?.destroy();
  tmp.remove();
});

function expectSame(retrace: Event[], retis: Dumped[]): void {
  expect(retis).toHaveLength(retrace.length);
  const c: Comparison = { mismatches: [], retraceOnly: new Set() };
  retrace.forEach((ev, i) => compareEvent(ev, (retis[i] as Dumped).dict, `event ${i}`, c));
  expect(c.mismatches).toEqual([]);
  expect([...c.retraceOnly].filter((f) => !RETRACE_ONLY.has(f))).toEqual([]);
}

test('EventFile.with_rotation reads every file of the set, each event with retrace values', () => {
  expect(files.length).toBeGreaterThan(2);
  const all = files.flatMap((f) => readEvents(f));
  // Each file opens with its startup event (split_file N), read as one of the events.
  expect(all.filter((e) => e.startup).map((e) => e.startup?.split_file?.id)).toEqual(files.map((_, i) => i));
  expectSame(all, dumpStandalone(`${base}.0`, 'rotation') as Dumped[]);
  // From a file in the middle, the rest of the set, as retis reads it.
  expectSame(
    files.slice(2).flatMap((f) => readEvents(f)),
    dumpStandalone(files[2] as string, 'rotation') as Dumped[],
  );
  // A file of the set alone, with EventReader: that file's events only.
  expectSame(readEvents(files[1] as string), dumpStandalone(files[1] as string, 'events') as Dumped[]);
});

test('retrace python -i F.0 reads the whole set (reader is EventFile.with_rotation)', () => {
  const dumped = parseDump(retracePython(['-i', `${base}.0`, DUMP_SCRIPT])) as Dumped[];
  expectSame(
    files.flatMap((f) => readEvents(f)),
    dumped,
  );
});

test("the sorted file of the set: SeriesReader and EventFile read every series with retrace's values", () => {
  const series = readSeries(sorted);
  const events = files.flatMap((f) => readEvents(f)).filter((e) => !e.startup).length;
  expect(series.flat().filter((e) => !e.startup)).toHaveLength(events);
  for (const dumped of [dumpStandalone(sorted, 'series'), parseDump(retracePython(['-i', sorted, DUMP_SCRIPT]))]) {
    expect(dumped).toHaveLength(series.length);
    const c: Comparison = { mismatches: [], retraceOnly: new Set() };
    series.forEach((s, i) => {
      const line = dumped[i] as { series: Dumped[]; len: number };
      expect(line.len).toBe(s.length);
      s.forEach((ev, j) => compareEvent(ev, (line.series[j] as Dumped).dict, `series ${i} event ${j}`, c));
    });
    expect(c.mismatches).toEqual([]);
    expect([...c.retraceOnly].filter((f) => !RETRACE_ONLY.has(f))).toEqual([]);
  }
});
