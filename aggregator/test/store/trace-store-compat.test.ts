// A store directory written by the previous version of the aggregator opens with everything in
// it: its meta.json wrote 64-bit counts as decimal strings (now bigints are tagged, as the state
// documents always had them). And two stores in one process share nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceStore, traceDirName } from '../../src/store/index.js';
import { dropped, ids, local, summary } from './store-journeys.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-store-compat-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a store the previous version wrote opens: its events, its summary's 64-bit counts, its evicted count and states", () => {
  let store = TraceStore.open(dir);
  for (let n = 0; n < 3; n++) store.append('default/ping', dropped(n));
  const before = ids(store, 'default/ping');
  store.close();
  // As the previous version wrote them: meta.json with 64-bit fields as decimal strings,
  // trace.json, and a state document with its bigints tagged.
  const tdir = join(dir, traceDirName('default/ping'));
  const asStrings = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);
  writeFileSync(join(tdir, 'meta.json'), `${JSON.stringify(summary, asStrings, 1)}\n`);
  writeFileSync(join(tdir, 'trace.json'), `${JSON.stringify({ name: 'default/ping', evicted: 2 })}\n`);
  mkdirSync(join(dir, '.state'), { recursive: true });
  writeFileSync(join(dir, '.state', 'cursors.json'), '{"last_seq":{"$bigint":"9223372036854775808"},"name":"x"}');

  store = TraceStore.open(dir);
  expect(store.warnings).toEqual([]);
  expect(ids(store, 'default/ping')).toEqual(before);
  expect(store.summary('default/ping')).toEqual(summary);
  expect(store.evicted('default/ping')).toBe(2);
  expect(store.state('cursors')).toEqual({ last_seq: 2n ** 63n, name: 'x' });
  // Saved again, in the one encoding, and read back the same.
  store.saveSummary('default/ping', summary);
  store.close();
  expect(readFileSync(join(tdir, 'meta.json'), 'utf8')).toContain('"$bigint": "1152921504606846977"');
  store = TraceStore.open(dir);
  expect(store.summary('default/ping')).toEqual(summary);
  store.close();
});

test('a meta.json whose counts are not integers is set aside, not read as zeros', () => {
  let store = TraceStore.open(dir);
  store.append('t', local(1));
  store.close();
  writeFileSync(join(dir, traceDirName('t'), 'meta.json'), JSON.stringify({ trace: 't', events: 'many' }));
  store = TraceStore.open(dir);
  expect(store.summary('t')).toBeUndefined();
  expect(store.warnings.map((w) => w.message)).toEqual([
    expect.stringMatching(
      /^summary unreadable \(.*\), set aside as meta\.json\.damaged-\S+; counts start again from 0$/,
    ),
  ]);
  store.close();
});

test('two stores in one process keep apart: journeys of every size appended to both in turn come back whole', () => {
  const a = TraceStore.open(join(dir, 'a'));
  const b = TraceStore.open(join(dir, 'b'));
  const wantA: string[] = [];
  const wantB: string[] = [];
  for (let n = 0; n < 300; n++) {
    // a long journey in one store, a one-event journey in the other, then the other way round
    const [big, small] = n % 2 ? [a, b] : [b, a];
    big.append('t', dropped(n));
    small.append('t', local(n));
    (n % 2 ? wantA : wantB).push(`node-a/${n}#0`, `node-a/${n}#1`, `node-a/${n}#2`);
    (n % 2 ? wantB : wantA).push(`node-c/${n}#0`);
  }
  expect(ids(a, 't')).toEqual(wantA);
  expect(ids(b, 't')).toEqual(wantB);
  a.close();
  b.close();
  const again = TraceStore.open(join(dir, 'a'));
  expect(again.warnings).toEqual([]);
  expect(ids(again, 't')).toEqual(wantA);
  again.close();
});
