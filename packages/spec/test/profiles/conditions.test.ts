// Which entry applies: the first whose `when` conditions (version ranges, symbols present or
// absent) all hold, checked on retis's annotated example profile with pretend kernels.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseEntry } from '../../src/profiles/conditions.js';
import { loadProfileFile } from '../../src/profiles/profile-file.js';
import { fakeKernel } from './fake-kernel.js';

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'e2e',
  'fixtures',
  'retis-profiles',
);
const example = loadProfileFile(join(fixtures, 'example.yaml')).profiles[0];
const collect = example?.sections.collect ?? [];

const chosen = (release: string, symbols: string[] = []): string | undefined =>
  chooseEntry(collect, fakeKernel(release, symbols))?.name;

test('the example profile has its five collect entries with their conditions', () => {
  expect(example?.name).toBe('example-profile');
  expect(collect.map((e) => e.when.length)).toEqual([2, 2, 1, 2, 0]);
  expect(collect[1]?.when[1]).toEqual({ type: 'symbol', name: 'some_tracepoint', exists: false });
});

test('version range and symbol present: the first entry', () => {
  expect(chosen('5.0.0', ['some_kprobe'])).toBe('A minimum kernel version that has a symbol');
});

test('first match wins: 5.0 with some_kprobe also fits ">=3.5.5, <6", but entry 1 comes first', () => {
  expect(chooseEntry(collect, fakeKernel('5.0.0', ['some_kprobe']))?.number).toBe(1);
  expect(chooseEntry(collect, fakeKernel('5.0.0'))?.number).toBe(3);
});

test('exists: false holds only when the symbol is absent', () => {
  expect(chosen('4.6.1')).toBe('The specific kernel without a symbol');
  expect(chosen('4.6.1', ['some_tracepoint'])).toBe('Most of old kernels');
});

test('recent kernels: the tracepoint entry when the symbol exists, else the default', () => {
  expect(chosen('6.18.44-fc-v657', ['sometracepoint'])).toBe('Recent kernels with a tracepoins');
  expect(chosen('6.18.44-fc-v657')).toBe('Default');
  expect(chosen('6.1.2', ['sometracepoint'])).toBe('Default'); // >6.1.2 is strict
});

test('without a fallback entry, no entry may match', () => {
  expect(chooseEntry(collect.slice(0, 4), fakeKernel('6.18.0'))).toBeUndefined();
});
