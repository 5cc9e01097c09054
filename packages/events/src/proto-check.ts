// Checking protobuf bytes against the schema without building anything: tags, wire types,
// lengths and nested messages all the way down. For readers that decode only part of a message
// (the aggregator's sort keys) but must refuse malformed ones, so that what is stored reads back.
import { messageFields, WIRE_TYPE, type FieldSpec } from './descriptors.js';
import { ProtoReader } from './proto-wire.js';
import { asDecodeError } from './proto-codec.js';

interface Checked {
  name: string;
  /** Fields by number (an array: the hot lookup of every field). */
  byNumber: (FieldSpec | undefined)[];
  /** A message field's message, by number. */
  subs: (Checked | undefined)[];
}

const checked = new Map<string, Checked>();
function checkedOf(name: string): Checked {
  let c = checked.get(name);
  if (c) return c;
  c = { name, byNumber: [], subs: [] };
  checked.set(name, c); // before the sub-messages: a message may contain itself
  for (const f of messageFields(name)) {
    c.byNumber[f.id] = f;
    if (f.message !== undefined) c.subs[f.id] = checkedOf(f.message);
  }
  return c;
}

/**
 * Checks that `bytes` are a well-formed `name` message all the way down (tags, wire types,
 * lengths, nested messages) without building anything; throws ProtoDecodeError naming the
 * problem.
 */
export function checkMessage(name: string, bytes: Uint8Array, start = 0, end = bytes.length): void {
  const r = new ProtoReader(bytes, name, start, end);
  try {
    checkFields(r, checkedOf(name), end);
  } catch (e) {
    throw asDecodeError(name, r, e);
  }
}

/**
 * Checks one field of message `name` whose tag was just read, and moves past it, as checkMessage
 * does for each field: for readers that read some fields themselves and must check the rest.
 * (The runtime's bounds errors are RangeErrors: such a reader turns them into ProtoDecodeError
 * with asDecodeError.)
 */
export function fieldChecker(name: string): (r: ProtoReader, tag: number) => void {
  const c = checkedOf(name);
  return (r, tag) => checkField(r, c, tag);
}

// One reader for the whole walk (nested messages end at `end`, checked after each field).
function checkFields(r: ProtoReader, c: Checked, end: number): void {
  while (r.pos < end) {
    checkField(r, c, r.tag());
    if (r.pos > end) r.fail(`a field of ${c.name} runs past the end of the message`);
  }
}

function checkField(r: ProtoReader, c: Checked, tag: number): void {
  const id = tag >>> 3;
  const wire = tag & 7;
  if (id === 0) r.fail('field number 0');
  const f = c.byNumber[id];
  if (f === undefined) {
    r.skipType(wire); // unknown (a newer peer's): skipped, as protobuf requires
    return;
  }
  if (wire !== WIRE_TYPE[f.kind]) r.fail(`field ${f.json} has wire type ${wire}, expected ${WIRE_TYPE[f.kind]}`);
  const sub = c.subs[id];
  if (sub === undefined) {
    r.skipType(wire);
    return;
  }
  const inner = r.length() + r.pos;
  checkFields(r, sub, inner);
}
