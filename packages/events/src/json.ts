// retis-compatible JSON lines, without losing 64-bit integers: JSON.parse turns numbers above
// 2^53 (skb addresses, orig_head) into wrong doubles, so large integers are read as text first
// and every 64-bit field of the schema becomes a bigint.
import type { Event } from './gen/event.js';
import { upgradeCt } from './ct-compat.js';
import { ctFromRetraceKey } from './ct-retis-key.js';
import { messageFields } from './descriptors.js';
import { writeEventJson } from './json-writer.js';
import { upgradeLegacyLayout } from './legacy-layout.js';

export class EventParseError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = 'EventParseError';
  }
}

const QUOTE = 34; // "
const BACKSLASH = 92;

/** Index just past the string literal that opens at `start` (the text's end when unterminated). */
function endOfString(text: string, start: number): number {
  let at = start + 1;
  for (;;) {
    const q = text.indexOf('"', at);
    if (q < 0) return text.length;
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    at = q + 1;
  }
}

const isJsonSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Quotes every integer literal of 16+ digits in value position (after ':' '[' or ',' and
 * followed by ',' ']' or '}'), outside strings. A single forward scan: a regular expression
 * with an alternation inside a repetition backtracks on its own stack and overflows it on a
 * long line (a 50 MB event), and JSON.parse itself does not recurse.
 */
function quoteBigInts(text: string): string {
  if (!/\d{16}/.test(text)) return text;
  const parts: string[] = [];
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
      continue;
    }
    if (c !== 58 && c !== 91 && c !== 44) {
      i++;
      continue;
    }
    let start = i + 1;
    while (start < n && isJsonSpace(text.charCodeAt(start))) start++;
    let end = text.charCodeAt(start) === 45 ? start + 1 : start; // '-'
    const firstDigit = end;
    while (end < n && isDigit(text.charCodeAt(end))) end++;
    if (end - firstDigit >= 16) {
      let after = end;
      while (after < n && isJsonSpace(text.charCodeAt(after))) after++;
      const next = text.charCodeAt(after);
      if (next === 44 || next === 93 || next === 125) {
        parts.push(text.slice(copied, start), '"', text.slice(start, end), '"');
        copied = end;
      }
    }
    i = Math.max(end, i + 1);
  }
  if (!parts.length) return text;
  parts.push(text.slice(copied));
  return parts.join('');
}

function toBigInt(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new EventParseError(`${path} must be an integer, got ${JSON.stringify(v)}`);
}

/** Converts the 64-bit fields of a parsed message (in place) to bigints, following the schema. */
function revive(obj: Record<string, unknown>, message: string, path: string): void {
  for (const f of messageFields(message)) {
    const v = obj[f.json];
    if (v === undefined || v === null) continue;
    const here = `${path}.${f.json}`;
    if (f.kind === 'u64' || f.kind === 'i64') {
      obj[f.json] = f.repeated && Array.isArray(v) ? v.map((x, i) => toBigInt(x, `${here}[${i}]`)) : toBigInt(v, here);
    } else if (f.kind === 'message' && f.message) {
      const items = f.repeated && Array.isArray(v) ? v : [v];
      for (const item of items)
        if (typeof item === 'object' && item !== null) revive(item as Record<string, unknown>, f.message, here);
    }
  }
}

/** Parses one event object (already JSON-parsed with quoted big integers). */
export function eventFromJson(value: unknown, line?: number): Event {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EventParseError('an event must be a JSON object', line);
  upgradeLegacyLayout(value as Record<string, unknown>); // retis 1.5's nested skb (legacy-layout.ts)
  try {
    ctFromRetraceKey(value as Record<string, unknown>);
    upgradeCt((value as Record<string, unknown>)['ct']);
    revive(value as Record<string, unknown>, 'Event', 'event');
  } catch (e) {
    throw new EventParseError((e as Error).message, line);
  }
  return value as Event;
}

/** Parses a line of an events file: one event, or (sorted files) an array of events. */
export function parseLine(text: string, line?: number): Event | Event[] {
  let value: unknown;
  try {
    value = JSON.parse(quoteBigInts(text));
  } catch (e) {
    throw new EventParseError(`not valid JSON (${(e as Error).message}); truncated or not an events file?`, line);
  }
  if (Array.isArray(value)) return value.map((v) => eventFromJson(v, line));
  return eventFromJson(value, line);
}

export function parseEvent(text: string, line?: number): Event {
  const v = parseLine(text, line);
  if (Array.isArray(v)) throw new EventParseError('expected one event, found a series (a sorted file?)', line);
  return v;
}

/** One JSON line, 64-bit integers as plain JSON numbers (as retis writes them). */
export function stringifyEvent(ev: Event | Event[]): string {
  return Array.isArray(ev) ? `[${ev.map(writeEventJson).join(',')}]` : writeEventJson(ev);
}
