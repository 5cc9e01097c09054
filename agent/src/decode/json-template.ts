// A section's JSON as a template over the record's fields: the program the native formatter
// runs (@retrace/ebpf-loader's RecordFormatter), and a JS runner of the same program for the
// records the formatter hands back. One description, two writers, the same bytes.
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

export class JsonTemplate {
  private readonly ops: number[] = [];
  private readonly literals: string[] = [];
  /** Where the last op, a literal, starts: the next literal joins it (no jump lands between). */
  private openLiteral = -1;
  readonly tables: TableLookup[] = [];

  /** `present`: the record's field of section bits, which ifPresent() tests. */
  constructor(readonly present: Field) {}

  lit(text: string): this {
    if (!text) return this;
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
    return this.op(FormatOp.NUM, scalar(f, 'a number', !shift && !mask), f.off, shift, mask);
  }

  /** true or false: whether the picked bits are set. */
  bool(f: Field, shift = 0, mask = 0): this {
    return this.op(FormatOp.BOOL, scalar(f, 'a boolean', !shift && !mask), f.off, shift, mask);
  }

  /** A JSON string of the field's bytes up to the first NUL (at most `max`). */
  str(off: number, max: number): this {
    return this.op(FormatOp.STR, off, max);
  }

  /** Base64 of `len` (a field) bytes at `off`, at most `max` of them. */
  base64(len: Field, off: number, max: number): this {
    return this.op(FormatOp.BASE64, scalar(len, 'a length'), len.off, off, max);
  }

  /** The lookup's text for the field's value, kept once asked for (an enum's names, say). */
  table(f: Field, lookup: TableLookup): this {
    this.tables.push(lookup);
    return this.op(FormatOp.TABLE, this.tables.length - 1, scalar(f, 'a table key', false), f.off);
  }

  /** `then` when any bit of `mask` is set in the field, else `otherwise` (mask: the bits, none is none). */
  ifAny(f: Field, mask: number, then: (t: this) => void, otherwise?: (t: this) => void): this {
    const skipThen = this.jump(FormatOp.JUMP_ZERO, scalar(f, 'a condition'), f.off, mask);
    then(this);
    if (!otherwise) return this.land(skipThen);
    const skipElse = this.jump(FormatOp.JUMP);
    this.land(skipThen);
    otherwise(this);
    return this.land(skipElse);
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

  /** The same program run in JS over a record: the text the formatter would write. */
  runner(): (r: RecordRef) => string {
    const ops = Uint32Array.from(this.ops);
    const literals = [...this.literals];
    const tables = [...this.tables];
    return (r) => runTemplate(ops, literals, tables, r);
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

/** The JS writer of a program: what formatter.cc writes, for records it hands back (JS_IF ops pass). */
function runTemplate(ops: Uint32Array, literals: string[], tables: TableLookup[], r: RecordRef): string {
  let s = '';
  let pc = 0;
  const a = (k: number): number => ops[pc + k] as number;
  while (pc < ops.length) {
    switch (ops[pc]) {
      case FormatOp.LIT:
        s += literals[a(1)];
        pc += 2;
        break;
      case FormatOp.NUM:
        s +=
          a(1) === 8 ? integerJson(r.view.getBigUint64(r.at + a(2), true)) : String(picked(r, a(1), a(2), a(3), a(4)));
        pc += 5;
        break;
      case FormatOp.BOOL:
        s += a(1) === 8 ? r.view.getBigUint64(r.at + a(2), true) !== 0n : picked(r, a(1), a(2), a(3), a(4)) !== 0;
        pc += 5;
        break;
      case FormatOp.STR:
        s += JSON.stringify(cstr(r.buf, r.at + a(1), a(2)));
        pc += 3;
        break;
      case FormatOp.BASE64: {
        const p = r.at + a(3);
        s += r.buf.toString('base64', p, p + fieldValue(r, a(1), a(2)));
        pc += 5;
        break;
      }
      case FormatOp.TABLE: {
        const v = fieldValue(r, a(2), a(3));
        const text = tables[a(1)]?.(v);
        if (text === undefined) throw new RangeError(`no text for value ${v} (formatter table ${a(1)})`);
        s += text;
        pc += 4;
        break;
      }
      case FormatOp.JUMP_ZERO:
      case FormatOp.JUMP_NONZERO: {
        const set =
          a(1) === 8
            ? (r.view.getBigUint64(r.at + a(2), true) & BigInt(a(3))) !== 0n
            : (fieldValue(r, a(1), a(2)) & a(3)) !== 0;
        const jump = set === (ops[pc] === FormatOp.JUMP_NONZERO);
        pc += 5 + (jump ? a(4) : 0);
        break;
      }
      case FormatOp.JUMP:
        pc += 2 + a(1);
        break;
      case FormatOp.JS_IF_ANY:
      case FormatOp.JS_IF_NOT:
        pc += 4;
        break;
      case FormatOp.JS_IF_SHORT:
        pc += 2;
        break;
      default:
        throw new RangeError(`formatter op ${ops[pc]} unknown at ${pc}`);
    }
  }
  return s;
}
