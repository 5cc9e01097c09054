// Access to the files in test/fixtures.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLine, type Event } from '../../src/index.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export const RETIS_FILES = ['test_events.jsonl', 'test_events_sorted.jsonl', 'test_events_bench.jsonl'];

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

/** Every line of an events file, parsed (an Event, or an Event[] for sorted files). */
export function readFixture(name: string): (Event | Event[])[] {
  return readFileSync(fixturePath(name), 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ text, line }) => parseLine(text, line));
}

export function readEvents(name: string): Event[] {
  return readFixture(name).flat();
}
