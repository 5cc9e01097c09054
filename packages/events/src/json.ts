// retis-compatible JSON lines, without losing 64-bit integers: JSON.parse turns numbers above
// 2^53 (skb addresses, orig_head) into wrong doubles, so large integers are read as text first
// and every 64-bit field of the schema becomes a bigint.
import { FIELDS, type Event, type FieldSpec } from './gen/event.js';
import { writeEventJson } from './json-writer.js';

export class EventParseError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = 'EventParseError';
  }
}

// An integer literal of 16+ digits in value position (after ':' '[' or ','), not inside a string.
const BIG_INT = /("(?:[^"\\]|\\.)*")|([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g;

function quoteBigInts(text: string): string {
  return text.replace(BIG_INT, (m, str: string | undefined, pre: string, digits: string) =>
    str !== undefined ? m : `${pre}"${digits}"`,
  );
}

function toBigInt(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new EventParseError(`${path} must be an integer, got ${JSON.stringify(v)}`);
}

/** Converts the 64-bit fields of a parsed message (in place) to bigints, following the schema. */
function revive(obj: Record<string, unknown>, message: string, path: string): void {
  const fields: FieldSpec[] | undefined = FIELDS[message];
  if (!fields) return;
  for (const f of fields) {
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
  try {
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
