// Checking protobuf bytes against the schema while passing over them, for the aggregator's key
// reader: tags, wire types, lengths and nested messages all the way down, as @retrace/events's
// checkMessage does, but in one tight loop over the bytes (no reader object, no call per field
// into the protobuf runtime): the aggregator checks every field of every event it stores.
// The plans come from the schema's generated descriptor (messageFields).
import { ProtoDecodeError, ProtoReader, WIRE_TYPE, messageFields } from '@retrace/events';

/** What the checker knows of a message: per field number, the wire type, its name, its message. */
export interface CheckPlan {
  readonly name: string;
  /** Expected wire type by field number (-1: not in the schema: skipped, as protobuf requires). */
  readonly wire: Int8Array;
  readonly names: string[];
  readonly subs: (CheckPlan | undefined)[];
}

const plans = new Map<string, CheckPlan>();

/** The plan of message `name` (made once; a message may contain itself). */
export function checkPlan(name: string): CheckPlan {
  let p = plans.get(name);
  if (p) return p;
  const fields = messageFields(name);
  const max = fields.reduce((m, f) => Math.max(m, f.id), 0);
  const wire = new Int8Array(max + 1).fill(-1);
  const names: string[] = [];
  const subs: (CheckPlan | undefined)[] = [];
  p = { name, wire, names, subs };
  plans.set(name, p);
  for (const f of fields) {
    wire[f.id] = WIRE_TYPE[f.kind];
    names[f.id] = f.json;
  }
  for (const f of fields) if (f.message !== undefined) subs[f.id] = checkPlan(f.message);
  return p;
}

/** Errors say where, from the start of the message read (`origin` in the buffer). */
export class CheckCursor {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  /** The end of the message read: nothing is read past it. */
  limit = 0;
  origin = 0;
  /** The message read, as errors name it. */
  constructor(readonly message: string) {}

  fail(detail: string): never {
    throw new ProtoDecodeError(this.message, `${detail} at byte ${this.pos - this.origin}`);
  }

  truncated(): never {
    this.fail(`truncated: a length or value runs past the end (${this.limit - this.origin} bytes)`);
  }

  /** A varint as an unsigned 32-bit number (longer ones keep their low 32 bits, as protobuf's uint32). */
  u32(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.limit) this.truncated();
    let c = b[p++] as number;
    if (c < 0x80) {
      this.pos = p;
      return c;
    }
    let v = c & 0x7f;
    for (let shift = 7; ; shift += 7) {
      if (p >= this.limit) {
        this.pos = p;
        this.truncated();
      }
      c = b[p++] as number;
      if (shift < 32) v |= (c & 0x7f) << shift;
      if (c < 0x80) break;
      if (shift >= 63) {
        this.pos = p;
        this.fail('invalid varint encoding');
      }
    }
    this.pos = p;
    return v >>> 0;
  }

  /** A tag: a varint of at most 5 bytes, field number not 0. */
  tag(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < this.limit && (b[p] as number) < 0x80) {
      this.pos = p + 1;
      if ((b[p] as number) < 8) this.fail('field number 0');
      return b[p] as number;
    }
    const t = this.u32();
    if (this.pos - p > 5) this.fail('invalid tag encoding');
    if (t >>> 3 === 0) this.fail('field number 0');
    return t;
  }

  /** A length prefix, checked to fit in what is left. */
  length(): number {
    const p = this.pos;
    let n: number;
    if (p < this.limit && (this.buf[p] as number) < 0x80) {
      n = this.buf[p] as number; // most lengths take one byte
      this.pos = p + 1;
    } else n = this.u32();
    if (this.pos + n > this.limit) this.fail(`length ${n} runs past the end`);
    return n;
  }

  /** Passes over a field of `plan` whose tag `t` was just read, checking it all the way down. */
  skip(plan: CheckPlan, t: number): void {
    const id = t >>> 3;
    const wire = t & 7;
    const want = id < plan.wire.length ? (plan.wire[id] as number) : -1;
    if (want >= 0 && wire !== want)
      this.fail(`field ${plan.names[id] as string} has wire type ${wire}, expected ${want}`);
    switch (wire) {
      case 0: {
        const b = this.buf;
        let p = this.pos;
        for (;;) {
          if (p >= this.limit) {
            this.pos = p;
            this.truncated();
          }
          if ((b[p++] as number) < 0x80) break;
        }
        this.pos = p;
        return;
      }
      case 1:
        this.advance(8);
        return;
      case 2: {
        const n = this.length();
        const sub = want >= 0 ? plan.subs[id] : undefined;
        if (sub === undefined) this.pos += n;
        else this.fields(sub, this.pos + n);
        return;
      }
      case 5:
        this.advance(4);
        return;
      default:
        this.skipOther(wire);
    }
  }

  /** Checks the fields of a `plan` message up to `end`. */
  fields(plan: CheckPlan, end: number): void {
    while (this.pos < end) {
      this.skip(plan, this.tag());
      if (this.pos > end) this.fail(`a field of ${plan.name} runs past the end of the message`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.limit) this.truncated();
    this.pos += n;
  }

  /** Groups (wire types 3 and 4) and invalid wire types, as the protobuf runtime has them. */
  private skipOther(wire: number): void {
    const b = this.buf;
    const r = new ProtoReader(Buffer.from(b.buffer, b.byteOffset, b.byteLength), this.message, this.pos, this.limit);
    try {
      r.skipType(wire);
    } catch (e) {
      this.pos = r.pos;
      this.fail(e instanceof Error ? e.message : String(e));
    }
    this.pos = r.pos;
  }
}
