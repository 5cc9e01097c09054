// An events file without events is said to be one (naming it) with a non-zero exit, as tcpdump
// does of an empty capture: print, sort, stats and pcap alike; standard input too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runRetrace } from '@retrace/e2e';
import { tempDir } from './helpers/files.js';

const tmp = tempDir('rt-empty-');
afterAll(() => tmp.remove());

test('an empty or blank file: every reader names it and exits 1', () => {
  const empty = join(tmp.dir, 'empty.data');
  const blank = join(tmp.dir, 'blank.data');
  writeFileSync(empty, '');
  writeFileSync(blank, '\n  \n\n');
  for (const file of [empty, blank])
    for (const args of [
      ['print', file],
      ['sort', file],
      ['stats', file],
      ['pcap', file, '-o', join(tmp.dir, 'o.pcapng')],
    ]) {
      const r = runRetrace(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(r.stderr).toContain(`events file ${file} holds no events`);
    }
});

test('empty standard input is named as such', () => {
  const r = runRetrace(['print', '-'], '');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('standard input holds no events');
});
