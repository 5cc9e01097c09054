// collect -o FILE --out-rotate SIZE on a real capture, as retis rotates: FILE.0, FILE.1, ... each at
// most SIZE bytes and opening with its startup event (split_file N), nothing left under FILE, and
// the set read back as one input by print, stats and sort.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, runRetrace } from '@retrace/e2e';
import { parseLine } from '@retrace/events';
import { collectInNetns, tempDir } from './helpers.js';

const tmp = tempDir();
let ns: Netns;

beforeAll(() => {
  ns = Netns.create('rotate');
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

test('a capture past the size is split into FILE.N files that read back as one', () => {
  const base = join(tmp.dir, 'rot.data');
  const r = collectInNetns(ns, 'ping -f -c 1500 127.0.0.1 >/dev/null', base, ['--out-rotate', '1MB']);
  const written = /(\d+) event\(s\) written to (\S+)/.exec(r.stderr);
  expect(written?.[2]).toBe(`${base}.0`);
  expect(existsSync(base)).toBe(false);
  const files = readdirSync(tmp.dir)
    .filter((f) => f.startsWith('rot.data.'))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  expect(files.length).toBeGreaterThan(2);
  expect(r.stderr).toContain(`(${files.length} files; read them with ${base}.0..)`);
  files.forEach((f, id) => {
    const path = join(tmp.dir, f);
    expect(f).toBe(`rot.data.${id}`);
    expect(statSync(path).size).toBeLessThanOrEqual(1_000_000);
    const first = parseLine(readFileSync(path, 'utf8').split('\n')[0] ?? '', 1);
    expect(Array.isArray(first) ? undefined : first.startup?.split_file).toEqual({
      id,
      policy: { kind: 'size', limit: 1_000_000n },
    });
  });
  const events = Number(/(\d+) event\(s\) written/.exec(r.stderr)?.[1]);
  const stats = runRetrace(['stats', `${base}.0..`]);
  expect(stats.code).toBe(0);
  const counted = [...stats.stdout.matchAll(/^Number of events: (\d+)$/gm)].map((m) => Number(m[1]));
  expect(counted).toHaveLength(files.length);
  expect(counted.reduce((a, b) => a + b, 0)).toBe(events);
  expect(stats.stdout).toContain(`\nSplit index: ${files.length - 1}\n`);
  const print = runRetrace(['print', `${base}.0..`, '--format', 'single-line']);
  expect(print.code).toBe(0);
  expect(print.stdout).toContain(`file id ${files.length - 1}`);
  const sorted = join(tmp.dir, 'sorted.data');
  expect(runRetrace(['sort', `${base}.0..`, '-o', sorted]).code).toBe(0);
  expect(runRetrace(['stats', sorted]).stdout).toMatch(new RegExp(`Number of events: ${events}\\n`));
});
