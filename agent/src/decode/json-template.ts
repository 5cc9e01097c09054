// A section's JSON as a template over the record's fields, made once into two writers: the
// program the native formatter runs (@retrace/ebpf-loader's RecordFormatter), and JS closures
// doing the same for the records the formatter hands back. One description, the same bytes.
import { FormatOp, type FormatProgram } from '@retrace/ebpf-loader';
import { integerJson } from '@retrace/events';
import { cstr } from './record-header.js';
import type { RecordRef } from './section.js';

/** A field of the record: its offset from the record's start and its size in bytes. */
export interface Field {
  off: number;
  size: number;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Numbers, tables and conditions read fields of 1, 2, 4 or 8 bytes (8: no shift, mask or table). */
function scalar(f: Field, what: string, wide = true): number {
  if (f.size === 1 || f.size === 2 || f.size === 4 || (wide && f.size === 8)) return f.size;
  throw new TemplateError(
    `${what} of a ${f.size}-byte field at ${f.off}: templates read 1, 2, 4${wide ? ' or 8' : ''} bytes`,
  );
}

/** A table's text for a field's value (undefined: JS writes the record). */
export type TableLookup = (value: number) => string | undefined;

/** Text from a record (a part of the JS writer). */
type Part = (r: RecordRef) => string;

export class JsonTemplate {
  private readonly ops: number[] = [];
  private readonly literals: string[] = [];
  /** Where the last op, a literal, starts: the next literal joins it (no jump lands between). */
  private openLiteral = -1;
  readonly tables: TableLookup[] = [];
  /** The JS writer as it is made: literal text, or a part reading the record; a list per open condition. */
  private readonly js: (string | Part)[][] = [[]];

  /** `present`: the record's field of section bits, which ifPresent() tests. */
  constructor(readonly present: Field) {}

  lit(text: string): this {
    if (!text) return this;
    const parts = this.parts();
    if (typeof parts[parts.length - 1] === 'string') parts[parts.length - 1] += text;
    else parts.push(text);
    if (this.openLiteral >= 0) {
      const idx = this.ops[this.openLiteral + 1] as number;
      this.literals[idx] += text;
      return this;
    }
    this.openLiteral = this.ops.length;
    this.ops.push(FormatOp.LIT, this.literals.length);
    this.literals.push(text);
    return this;
  }

  /** The field in decimal; `shift` and `mask` pick bits (fields of at most 4 bytes). */
  num(f: Field, shift = 0, mask = 0): this {
    const size = scalar(f, 'a number', !shift && !mask);
    const at = f.off;
    this.parts().push(
      size === 8
        ? (r) => integerJson(r.view.getBigUint64(r.at + at, true))
        : (r) => String(picked(r, size, at, shift, mask)),
    );
    return this.op(FormatOp.NUM, size, at, shift, mask);
  }

  /** true or false: whether the picked bits are set. */
  bool(f: Field, shift = 0, mask = 0): this {
    const size = scalar(f, 'a boolean', !shift && !mask);
    const at = f.off;
    this.parts().push(
      size === 8
        ? (r) => String(r.view.getBigUint64(r.at + at, true) !== 0n)
        : (r) => String(picked(r, size, at, shift, mask) !== 0),
    );
    return this.op(FormatOp.BOOL, size, at, shift, mask);
  }

  /** A JSON string of the field's bytes up to the first NUL (at most `max`). */
  str(off: number, max: number): this {
    this.parts().push((r) => JSON.stringify(cstr(r.buf, r.at + off, max)));
    return this.op(FormatOp.STR, off, max);
  }

  /** Base64 of `len` (a field) bytes at `off`, at most `max` of them. */
  base64(len: Field, off: number, max: number): this {
    const size = scalar(len, 'a length');
    const at = len.off;
    // As the decoder does: the length as recorded (the formatter hands longer ones to JS).
    this.parts().push((r) => r.buf.toString('base64', r.at + off, r.at + off + fieldValue(r, size, at)));
    return this.op(FormatOp.BASE64, size, at, off, max);
  }

  /** The lookup's text for the field's value, kept once asked for (an enum's names, say). */
  table(f: Field, lookup: TableLookup): this {
    const size = scalar(f, 'a table key', false);
    const at = f.off;
    const index = this.tables.length;
    this.parts().push((r) => {
      const v = fieldValue(r, size, at);
      const text = lookup(v);
      if (text === undefined) throw new RangeError(`no text for value ${v} (formatter table ${index})`);
      return text;
    });
    this.tables.push(lookup);
    return this.op(FormatOp.TABLE, this.tables.length - 1, scalar(f, 'a table key', false), f.off);
  }

  /** `then` when any bit of `mask` is set in the field, else `otherwise` (mask: the bits, none is none). */
  ifAny(f: Field, mask: number, then: (t: this) => void, otherwise?: (t: this) => void): this {
    const size = scalar(f, 'a condition');
    const at = f.off;
    const skipThen = this.jump(FormatOp.JUMP_ZERO, size, at, mask);
    const yes = this.nested(() => then(this));
    let no: Part = () => '';
    if (!otherwise) this.land(skipThen);
    else {
      const skipElse = this.jump(FormatOp.JUMP);
      this.land(skipThen);
      no = this.nested(() => otherwise(this));
      this.land(skipElse);
    }
    this.parts().push(
      size === 8
        ? (r) => ((r.view.getBigUint64(r.at + at, true) & BigInt(mask)) !== 0n ? yes(r) : no(r))
        : (r) => ((fieldValue(r, size, at) & mask) !== 0 ? yes(r) : no(r)),
    );
    return this;
  }

  /** ifAny over the record's section bits. */
  ifPresent(mask: number, then: (t: this) => void, otherwise?: (t: this) => void): this {
    return this.ifAny(this.present, mask, then, otherwise);
  }

  /** A record with any bit of `mask` set in the field is written by JS. */
  jsIfAny(f: Field, mask: number): this {
    return this.op(FormatOp.JS_IF_ANY, scalar(f, 'a condition'), f.off, mask);
  }

  /** A record whose field is not `value` is written by JS. */
  jsIfNot(f: Field, value: number): this {
    return this.op(FormatOp.JS_IF_NOT, scalar(f, 'a condition'), f.off, value);
  }

  /** A record shorter than `bytes` is written by JS. */
  jsIfShort(bytes: number): this {
    return this.op(FormatOp.JS_IF_SHORT, bytes);
  }

  program(): FormatProgram {
    const enc = new TextEncoder();
    return {
      ops: Uint32Array.from(this.ops),
      literals: this.literals.map((l) => enc.encode(l)),
      tables: this.tables.length,
    };
  }

  /** The JS writer: over a record, the text the formatter writes (its JS checks pass). */
  runner(): Part {
    if (this.js.length !== 1) throw new TemplateError('runner() inside a condition');
    return compile(this.parts());
  }

  private parts(): (string | Part)[] {
    return this.js[this.js.length - 1] as (string | Part)[];
  }

  /** The JS writer of what `build` adds. */
  private nested(build: () => void): Part {
    this.js.push([]);
    build();
    return compile(this.js.pop() ?? []);
  }

  private op(...words: number[]): this {
    this.ops.push(...words);
    this.openLiteral = -1;
    return this;
  }

  /** A forward jump whose distance land() fills in. */
  private jump(...words: number[]): number {
    this.op(...words, 0);
    return this.ops.length;
  }

  private land(after: number): this {
    this.ops[after - 1] = this.ops.length - after;
    this.openLiteral = -1;
    return this;
  }
}

function fieldValue(r: RecordRef, size: number, off: number): number {
  const at = r.at + off;
  return size === 1 ? r.view.getUint8(at) : size === 2 ? r.view.getUint16(at, true) : r.view.getUint32(at, true);
}

function picked(r: RecordRef, size: number, off: number, shift: number, mask: number): number {
  const v = fieldValue(r, size, off) >>> shift;
  return mask ? (v & mask) >>> 0 : v;
}

/** One function over a record from the parts of a writer. */
function compile(parts: readonly (string | Part)[]): Part {
  if (parts.length === 0) return () => '';
  if (parts.length === 1) {
    const p = parts[0] as string | Part;
    return typeof p === 'string' ? () => p : p;
  }
  const list = [...parts];
  return (r) => {
    let s = '';
    for (const p of list) s += typeof p === 'string' ? p : p(r);
    return s;
  };
}
