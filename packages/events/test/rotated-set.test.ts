// Rotated sets (collect --out-rotate): FILE.N.. reads FILE.N and the files after it as one input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  existingSetFiles,
  inputFiles,
  openInput,
  parseInputSpec,
  readEventLines,
  setMember,
  stringifyEvent,
  type Event,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'retrace-rot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const startup = (id?: number): Event => ({
  common: { timestamp: 1n },
  startup: {
    retis_version: 'v1.7.0',
    cmdline: 'retis collect -o x --out-rotate 1MB',
    retrace_version: '',
    ...(id === undefined ? {} : { split_file: { id, policy: { kind: 'size', limit: 1000000n } } }),
  },
});
const ev = (ts: number): Event => ({
  common: { timestamp: BigInt(ts) },
  kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint', stack_trace: [] },
});
const lines = (...evs: Event[]): string => evs.map((e) => stringifyEvent(e)).join('\n');

async function timestamps(input: Parameters<typeof openInput>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const { value } of readEventLines(openInput(input)))
    for (const e of Array.isArray(value) ? value : [value]) out.push(e.startup ? 'S' : String(e.common?.timestamp));
  return out;
}

test('FILE.. follows the set; FILE alone is read alone; `..` is not a set', () => {
  expect(parseInputSpec('x.data.0..')).toEqual({ path: 'x.data.0', follow: true });
  expect(parseInputSpec('x.data.0')).toEqual({ path: 'x.data.0', follow: false });
  expect(parseInputSpec('..')).toEqual({ path: '..', follow: false });
  expect(parseInputSpec('a/..')).toEqual({ path: 'a/..', follow: false });
  expect(parseInputSpec('-')).toEqual({ path: '-', follow: false });
});

test('a set is read in order as one input, a file without a final newline included', async () => {
  const base = join(dir, 'x.data');
  writeFileSync(`${base}.0`, `${lines(startup(0), ev(10), ev(11))}\n`);
  writeFileSync(`${base}.1`, lines(startup(1), ev(20))); // no final newline
  writeFileSync(`${base}.2`, `${lines(startup(2), ev(30))}\n`);
  expect(setMember(`${base}.1`)).toEqual({ base, id: 1 });
  expect(inputFiles({ path: `${base}.0`, follow: true })).toEqual([`${base}.0`, `${base}.1`, `${base}.2`]);
  expect(await timestamps({ path: `${base}.0`, follow: true })).toEqual(['S', '10', '11', 'S', '20', 'S', '30']);
  // From the middle on, as retis reads x.data.1..
  expect(await timestamps({ path: `${base}.1`, follow: true })).toEqual(['S', '20', 'S', '30']);
  // Without `..`, the file alone.
  expect(await timestamps(`${base}.0`)).toEqual(['S', '10', '11']);
  expect(existingSetFiles(base)).toEqual([`${base}.0`, `${base}.1`, `${base}.2`]);
});

test('a gap, or a stale file of another index, ends the set', () => {
  const base = join(dir, 'y.data');
  writeFileSync(`${base}.0`, `${lines(startup(0), ev(1))}\n`);
  writeFileSync(`${base}.1`, `${lines(startup(7), ev(2))}\n`); // says it is file 7: not the next one
  writeFileSync(`${base}.2`, `${lines(startup(2), ev(3))}\n`);
  expect(inputFiles({ path: `${base}.0`, follow: true })).toEqual([`${base}.0`]);
  const gap = join(dir, 'z.data');
  writeFileSync(`${gap}.0`, `${lines(startup(0), ev(1))}\n`);
  writeFileSync(`${gap}.2`, `${lines(startup(2), ev(3))}\n`);
  expect(inputFiles({ path: `${gap}.0`, follow: true })).toEqual([`${gap}.0`]);
});

test('the last file of a killed run, still under the plain name, ends the set when it is the next index', async () => {
  const base = join(dir, 'k.data');
  writeFileSync(`${base}.0`, `${lines(startup(0), ev(1))}\n`);
  writeFileSync(`${base}.1`, `${lines(startup(1), ev(2))}\n`);
  writeFileSync(base, `${lines(startup(2), ev(3))}\n`);
  expect(inputFiles({ path: `${base}.0`, follow: true })).toEqual([`${base}.0`, `${base}.1`, base]);
  expect(await timestamps({ path: `${base}.0`, follow: true })).toEqual(['S', '1', 'S', '2', 'S', '3']);
  writeFileSync(base, `${lines(startup(5), ev(3))}\n`); // another run's
  expect(inputFiles({ path: `${base}.0`, follow: true })).toEqual([`${base}.0`, `${base}.1`]);
});

test('a file that is no member of a set (no split_file, a name without its index) is read alone', () => {
  const plain = join(dir, 'plain.data');
  writeFileSync(plain, `${lines(startup(), ev(1))}\n`);
  writeFileSync(`${plain}.1`, `${lines(startup(1), ev(2))}\n`);
  expect(inputFiles({ path: plain, follow: true })).toEqual([plain]);
  const renamed = join(dir, 'renamed.data');
  writeFileSync(renamed, `${lines(startup(0), ev(1))}\n`); // file 0 under another name
  expect(setMember(renamed)).toBeUndefined();
  expect(inputFiles({ path: renamed, follow: true })).toEqual([renamed]);
  const sorted = join(dir, 'sorted.data');
  writeFileSync(sorted, `${stringifyEvent([startup(0)])}\n`);
  expect(setMember(sorted)).toBeUndefined();
});
