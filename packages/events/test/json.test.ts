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
