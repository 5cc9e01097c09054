// Reading and writing events files as streams.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import {
  EventParseError,
  InputError,
  openInput,
  readEventLines,
  writeEventLine,
  type EventLine,
} from '../src/index.js';
import { fixturePath } from './helpers/fixtures.js';

const E1 = '{"common":{"timestamp":1},"kernel":{"symbol":"a","probe_type":"kprobe"}}';
const E2 = '{"common":{"timestamp":2},"skb-tracking":{"orig_head":18446616568293939200,"timestamp":2,"skb":3}}';

async function collect(input: NodeJS.ReadableStream): Promise<{ got: EventLine[]; error?: unknown }> {
  const got: EventLine[] = [];
  try {
    for await (const l of readEventLines(input)) got.push(l);
  } catch (error) {
    return { got, error };
  }
  return { got };
}

test('lines are numbered, blank lines skipped, chunks split anywhere', async () => {
  const text = `${E1}\n\n${E2}\r\n`;
  const chunks = [text.slice(0, 10), text.slice(10, 75), text.slice(75)];
  const { got, error } = await collect(Readable.from(chunks));
  expect(error).toBeUndefined();
  expect(got.map((l) => l.line)).toEqual([1, 3]);
  expect(got[1]?.value).toMatchObject({ 'skb-tracking': { orig_head: 18446616568293939200n } });
});

test('a malformed line in the middle: earlier events yielded, then EventParseError with its line number', async () => {
  const { got, error } = await collect(Readable.from([`${E1}\n${E2}\n{"common": {"timestamp": 3\n${E1}\n`]));
  expect(got.map((l) => l.line)).toEqual([1, 2]);
  expect(error).toBeInstanceOf(EventParseError);
  expect((error as EventParseError).line).toBe(3);
  expect((error as Error).message).toMatch(/^line 3: /);
});

test('a sorted file yields one array per line', async () => {
  const { got } = await collect(openInput(fixturePath('test_events_sorted.jsonl')));
  expect(got.map((l) => (Array.isArray(l.value) ? l.value.length : 'event'))).toEqual([1, 1, 2, 1]);
});

test('openInput: - is stdin; a missing file or a directory is an InputError naming the path', async () => {
  expect(openInput('-')).toBe(process.stdin);
  const dir = mkdtempSync(join(tmpdir(), 'retrace-events-'));
  const missing = join(dir, 'nope.json');
  expect(() => openInput(missing)).toThrow(InputError);
  expect(() => openInput(missing)).toThrow(`cannot open events file ${missing}: no such file`);
  expect(() => openInput(dir)).toThrow(`cannot read events file ${dir}: it is a directory`);
  const { got } = await collect(openInput(fixturePath('test_events.jsonl')));
  expect(got).toHaveLength(5);
});

test('writeEventLine writes lines readEventLines reads back, bigints intact', async () => {
  const pipe = new PassThrough();
  const reading = collect(pipe);
  const { got: source } = await collect(Readable.from([`${E1}\n${E2}\n`]));
  for (const l of source) await writeEventLine(pipe, l.value);
  await writeEventLine(pipe, source.map((l) => l.value).flat());
  pipe.end();
  const { got } = await reading;
  expect(got.map((l) => l.value)).toEqual([source[0]?.value, source[1]?.value, [source[0]?.value, source[1]?.value]]);
});

test('writeEventLine waits for a full stream to drain', async () => {
  const w = new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, cb) {
      setTimeout(cb, 20);
    },
  });
  let done = false;
  const p = writeEventLine(w, { common: { timestamp: 1n } }).then(() => {
    done = true;
  });
  await new Promise((r) => setTimeout(r, 5));
  expect(done).toBe(false);
  await p;
  expect(done).toBe(true);
});
