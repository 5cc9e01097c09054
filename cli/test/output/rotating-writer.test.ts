// collect --out-rotate's writer: FILE while writing, FILE.0, FILE.1, ... once done, each file at
// most SIZE bytes (unless one line alone is longer) and opening with its own startup event.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RotatedSetExistsError, RotatingLineWriter, parseRotateSize } from '../../src/output/rotating-writer.js';
import { UsageError } from '../../src/usage-error.js';
import { tempDir } from '../helpers/files.js';

const tmp = tempDir('rt-rotw-');
afterAll(() => tmp.remove());

const startup = (id: number): string => `{"startup":{"split_file":{"id":${id}}}}`;

test('--out-rotate takes retis sizes: NMB and NGB in powers of ten, nothing else', () => {
  expect(parseRotateSize('1MB')).toBe(1_000_000);
  expect(parseRotateSize('2GB')).toBe(2_000_000_000);
  for (const bad of ['0MB', '10', '10mb', '10KB', '1.5MB', 'MB', '10MBx', ' 10MB'])
    expect(() => parseRotateSize(bad)).toThrow(UsageError);
});

test('lines past the limit go to the next file, each with its startup event; all renamed at the end', () => {
  const base = join(tmp.dir, 'a.data');
  const errors: Error[] = [];
  const w = new RotatingLineWriter(base, { limit: 120, startup, onError: (e) => errors.push(e) });
  const line = (i: number): string => `{"n":${i},"pad":"${'x'.repeat(20)}"}`; // 39 bytes with its newline, the startup 38: two events a file
  for (let i = 0; i < 5; i++) w.line(line(i));
  // While writing, the current file has the plain name and the full ones their index.
  expect(existsSync(base)).toBe(true);
  expect(existsSync(`${base}.0`)).toBe(true);
  w.close();
  expect(errors).toEqual([]);
  expect(existsSync(base)).toBe(false);
  expect(
    readdirSync(tmp.dir)
      .filter((f) => f.startsWith('a.data'))
      .sort(),
  ).toEqual(['a.data.0', 'a.data.1', 'a.data.2']);
  const files = [0, 1, 2].map((i) => readFileSync(`${base}.${i}`, 'utf8'));
  expect(files.map((t) => t.split('\n')[0])).toEqual([startup(0), startup(1), startup(2)]);
  for (const t of files) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(120);
  expect(files.join('').match(/"n":\d/g)).toEqual(['"n":0', '"n":1', '"n":2', '"n":3', '"n":4']);
});

test('a line longer than the limit still goes out, alone in its file: no file of only a startup event', () => {
  const base = join(tmp.dir, 'b.data');
  const w = new RotatingLineWriter(base, { limit: 50, startup, onError: () => {} });
  w.line('x'.repeat(200));
  w.line('y'.repeat(200));
  w.close();
  expect(readFileSync(`${base}.0`, 'utf8')).toBe(`${startup(0)}\n${'x'.repeat(200)}\n`);
  expect(readFileSync(`${base}.1`, 'utf8')).toBe(`${startup(1)}\n${'y'.repeat(200)}\n`);
  expect(existsSync(`${base}.2`)).toBe(false);
});

test('files of an earlier set are refused before anything is written', () => {
  const base = join(tmp.dir, 'c.data');
  writeFileSync(`${base}.3`, 'earlier run\n');
  expect(() => new RotatingLineWriter(base, { limit: 100, startup, onError: () => {} })).toThrow(RotatedSetExistsError);
  expect(() => new RotatingLineWriter(base, { limit: 100, startup, onError: () => {} })).toThrow(
    `${base}.3 already there`,
  );
  expect(existsSync(base)).toBe(false);
  expect(readFileSync(`${base}.3`, 'utf8')).toBe('earlier run\n');
});
