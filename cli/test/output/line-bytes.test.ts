// Lines handed over as bytes (collect's events, many at a time) end up in the file exactly as
// the same lines given one by one would, rotated at the same places, and counted alike when
// the disk refuses them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LineWriter, type LineBytes } from '../../src/output/line-writer.js';
import { RotatingLineWriter } from '../../src/output/rotating-writer.js';
import { OutputWriteError } from '../../src/output/write-error.js';
import { tempDir } from '../helpers/files.js';

const tmp = tempDir('rt-lineb-');
afterAll(() => tmp.remove());

/** Lines of varied lengths (some far longer than the writer's buffer), as one block of bytes. */
function block(n: number, seed: number): { texts: string[]; bytes: LineBytes } {
  const texts = Array.from({ length: n }, (_, i) => {
    const k = (i * 7919 + seed) % 97;
    return `{"n":${i},"pad":"${'x'.repeat(k === 0 ? 200_000 : k * 13)}","é":"ü"}`;
  });
  const buf = Buffer.from(texts.map((t) => `${t}\n`).join(''));
  const ends = new Uint32Array(n);
  let at = 0;
  texts.forEach((t, i) => {
    at += Buffer.byteLength(t) + 1;
    ends[i] = at;
  });
  return { texts, bytes: { buf, ends } };
}

test('lines() writes what line() writes, in order, mixed with single lines, big runs and small', () => {
  const { texts, bytes } = block(600, 1);
  const one = join(tmp.dir, 'one.json');
  const many = join(tmp.dir, 'many.json');
  const a = new LineWriter(one);
  for (const t of texts.slice(0, 300)) a.line(t);
  a.line('{"between":true}');
  for (const t of texts.slice(300)) a.line(t);
  a.close();
  const b = new LineWriter(many);
  // Uneven pieces: single lines, short runs, and runs past the buffer (written without a copy).
  b.lines(bytes, 0, 1);
  b.lines(bytes, 1, 5);
  b.lines(bytes, 5, 300);
  b.line('{"between":true}');
  for (let i = 300; i < 600; i += 37) b.lines(bytes, i, Math.min(600, i + 37));
  b.close();
  expect(readFileSync(many, 'utf8')).toBe(readFileSync(one, 'utf8'));
});

test('a rotated set made from bytes splits where one made line by line does', () => {
  const { texts, bytes } = block(300, 3);
  const base = (d: string): string => join(tmp.dir, `${d}.data`);
  const startup = (id: number): string => `{"startup":{"split_file":{"id":${id}}}}`;
  const errors: Error[] = [];
  const a = new RotatingLineWriter(base('a'), { limit: 50_000, startup, onError: (e) => errors.push(e) });
  for (const t of texts) a.line(t);
  a.close();
  const b = new RotatingLineWriter(base('b'), { limit: 50_000, startup, onError: (e) => errors.push(e) });
  for (let i = 0; i < 300; i += 23) b.lines(bytes, i, Math.min(300, i + 23));
  b.close();
  expect(errors).toEqual([]);
  const files = (d: string): string[] =>
    readdirSync(tmp.dir)
      .filter((f) => f.startsWith(`${d}.data.`))
      .sort((x, y) => Number(x.split('.').pop()) - Number(y.split('.').pop()));
  expect(files('b').length).toBeGreaterThan(3);
  expect(files('b').map((f) => f.replace(/^b/, 'a'))).toEqual(files('a'));
  for (const f of files('a'))
    expect(readFileSync(join(tmp.dir, `b${f.slice(1)}`), 'utf8')).toBe(readFileSync(join(tmp.dir, f), 'utf8'));
});

test('a refused write counts every line handed over as bytes as lost', () => {
  const { bytes } = block(100, 5);
  const errors: OutputWriteError[] = [];
  const w = new LineWriter('/dev/full', { onError: (e) => errors.push(e) });
  w.lines(bytes, 0, 60);
  w.lines(bytes, 60, 100);
  w.line('{"last":1}');
  let thrown: unknown;
  try {
    w.close();
  } catch (e) {
    thrown = e;
  }
  expect(errors.length).toBe(1);
  expect(thrown).toBeInstanceOf(OutputWriteError);
  const e = thrown as OutputWriteError;
  expect(e.errno.code).toBe('ENOSPC');
  expect(e.written).toEqual({ items: 0, events: 0, bytes: 0 });
  expect(e.lost).toEqual({ items: 101, events: 101 });
});
