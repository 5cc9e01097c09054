// 64-bit ids survive a parse/stringify round trip (JSON.parse alone would round them).
import { parseEvent, parseLine, stringifyEvent, EventParseError } from '../src/index.js';
import { readFileSync } from 'node:fs';
import { fixturePath } from './helpers/fixtures.js';

const LINE =
  '{"common":{"timestamp":23868643385999},"skb-tracking":{"orig_head":18446616568293939200,"timestamp":23868643385999,"skb":18446744073709551615},"dev":{"name":"eth0","ifindex":3}}';

test('skb addresses above 2^53 are exact bigints and are written back digit for digit', () => {
  const ev = parseEvent(LINE);
  expect(ev['skb-tracking']?.orig_head).toBe(18446616568293939200n);
  expect(ev['skb-tracking']?.skb).toBe(2n ** 64n - 1n);
  expect(ev.common?.timestamp).toBe(23868643385999n);
  expect(ev.dev?.ifindex).toBe(3); // 32-bit fields stay numbers
  expect(stringifyEvent(ev)).toBe(LINE);
  expect(parseEvent(stringifyEvent(ev))).toEqual(ev);
});

test('every line of the retis fixtures round-trips', () => {
  for (const name of ['test_events.jsonl', 'test_events_sorted.jsonl']) {
    for (const text of readFileSync(fixturePath(name), 'utf8').split('\n').filter(Boolean)) {
      const v = parseLine(text);
      expect(parseLine(stringifyEvent(v))).toEqual(v);
      expect(JSON.parse(stringifyEvent(v))).toEqual(JSON.parse(text)); // same fields, same order-free content
    }
  }
});

test('a sorted line is a series; a bad line names its number', () => {
  expect(Array.isArray(parseLine(`[${LINE},${LINE}]`))).toBe(true);
  expect(() => parseEvent(`[${LINE}]`, 4)).toThrow(/line 4: expected one event, found a series/);
  expect(() => parseLine('{"common":', 7)).toThrow(EventParseError);
});

describe('long and deep lines', () => {
  test('a 50 MB line (one long string, big integers after it) reads back whole', () => {
    const blob = 'ab\\"c:12345678901234567890,'.repeat(2_000_000); // ~54 MB, quotes and digits inside a string
    const text = `{"common":{"timestamp":5},"x":"${blob}","skb-tracking":{"orig_head":18446616568293939200,"timestamp":5,"skb":1}}`;
    expect(text.length).toBeGreaterThan(50_000_000);
    const ev = parseEvent(text) as unknown as Record<string, unknown>;
    expect((ev.x as string).length).toBe(blob.length - 2_000_000); // each \" is one character
    expect((ev.x as string).startsWith('ab"c:12345678901234567890,')).toBe(true);
    expect((ev['skb-tracking'] as Record<string, unknown>).orig_head).toBe(18446616568293939200n);
  });

  test('deep but valid nesting (20000 levels) parses', () => {
    const depth = 20_000;
    const text = `{"common":{"timestamp":1},"x":${'['.repeat(depth)}12345678901234567890${']'.repeat(depth)}}`;
    let v: unknown = (parseEvent(text) as unknown as Record<string, unknown>).x;
    let levels = 0;
    while (Array.isArray(v)) {
      v = v[0];
      levels++;
    }
    expect(levels).toBe(depth);
    expect(v).toBe('12345678901234567890'); // outside the schema a big integer stays exact, as text
  });

  test('only value-position integers of 16+ digits are quoted: strings, floats and keys stay as they are', () => {
    const text =
      '{"common":{"timestamp":1},"s":"\\\\","t":"x\\",1234567890123456789]","f":[1234567890123456789.5, 1e400],"n":[ -12345678901234567890 ,7]}';
    const ev = parseEvent(text) as unknown as Record<string, unknown>;
    expect(ev.s).toBe('\\');
    expect(ev.t).toBe('x",1234567890123456789]');
    expect(ev.f).toEqual([Number('1234567890123456789.5'), Infinity]);
    expect(ev.n).toEqual(['-12345678901234567890', 7]);
  });
});
