// How the aggregator reads an agent's messages: as decodeMessage('AgentMessage', ..., { raw:
// EventBatch.events }) reads them (events left encoded, each a view of its bytes), with a batch's
// events found by a scan of their tags and lengths instead of the generated decoder (which makes a
// Buffer view per event through a call per event: a tenth of what the aggregator spent on an
// event). The batch's other fields are decoded by the generated code, from their own bytes; any
// batch the scan does not take as it is (a group, a malformed field) is decoded the generated way,
// which then says what is wrong with it.
import {
  ProtoDecodeError,
  decodeMessage,
  fieldNumber,
  type AgentMessage,
  type DecodeOptions,
  type EventBatch,
} from '@retrace/events';

/** Events left encoded: what the generated decode of a batch gives, and this scan's fallback. */
const EVENTS_RAW: DecodeOptions = { raw: new Set(['EventBatch.events']) };
/** The batch left encoded, to be scanned. */
const BATCH_RAW: DecodeOptions = { raw: new Set(['AgentMessage.batch']) };
const EVENTS_TAG = (fieldNumber('EventBatch', 'events') << 3) | 2;

/** An AgentMessage as the aggregator takes it: a batch's events are Uint8Arrays of their bytes. */
export function readAgentMessage(bytes: Uint8Array): AgentMessage {
  try {
    const m = decodeMessage<AgentMessage>('AgentMessage', bytes, BATCH_RAW);
    const batch = m.batch as unknown;
    if (!(batch instanceof Uint8Array)) return m;
    const read = readEventBatch(batch);
    if (read !== undefined) {
      m.batch = read;
      return m;
    }
  } catch (e) {
    if (!(e instanceof ProtoDecodeError)) throw e;
  }
  return decodeMessage<AgentMessage>('AgentMessage', bytes, EVENTS_RAW); // (and its error)
}

/** An EventBatch with its events left encoded (views of `bytes`), or undefined when the scan does not take it. */
function readEventBatch(bytes: Uint8Array): EventBatch | undefined {
  const events: Uint8Array[] = [];
  /** The other fields' bytes: [start, end) pairs. */
  const rest: number[] = [];
  const ab = bytes.buffer;
  const base = bytes.byteOffset;
  const end = bytes.length;
  let p = 0;
  while (p < end) {
    const start = p;
    let tag = bytes[p++] as number;
    if (tag >= 0x80) {
      tag = varint(bytes, start, end);
      p = at;
    }
    if (tag < 8) return undefined; // field 0, or no tag
    if (tag === EVENTS_TAG) {
      let n = p < end ? (bytes[p++] as number) : -1;
      if (n >= 0x80) {
        n = varint(bytes, p - 1, end);
        p = at;
      }
      if (n < 0 || p + n > end) return undefined;
      events.push(new Uint8Array(ab, base + p, n));
      p += n;
      continue;
    }
    switch (tag & 7) {
      case 0: {
        const from = p;
        while (p < end && (bytes[p] as number) >= 0x80) p++;
        if (p >= end || p - from >= 10) return undefined;
        p++;
        break;
      }
      case 1:
        p += 8;
        break;
      case 2: {
        const n = varint(bytes, p, end);
        if (n < 0) return undefined;
        p = at + n;
        break;
      }
      case 5:
        p += 4;
        break;
      default:
        return undefined; // groups, invalid wire types
    }
    if (p > end) return undefined;
    rest.push(start, p);
  }
  let other = new Uint8Array(0);
  if (rest.length > 0) {
    let size = 0;
    for (let i = 0; i < rest.length; i += 2) size += (rest[i + 1] as number) - (rest[i] as number);
    other = new Uint8Array(size);
    for (let i = 0, o = 0; i < rest.length; i += 2) {
      other.set(bytes.subarray(rest[i] as number, rest[i + 1] as number), o);
      o += (rest[i + 1] as number) - (rest[i] as number);
    }
  }
  const batch = decodeMessage<EventBatch>('EventBatch', other, EVENTS_RAW);
  if (events.length > 0) batch.events = events as unknown as EventBatch['events'];
  return batch;
}

/** Where the last varint() ended. */
let at = 0;

/**
 * The varint at bytes[p] of up to 28 bits (a tag or a length: a message is at most 64 MiB), its
 * end in `at`; -1 for anything else (the generated decode's to judge).
 */
function varint(bytes: Uint8Array, p: number, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) return -1;
    const b = bytes[p++] as number;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) {
      at = p;
      return v;
    }
  }
  return -1;
}
