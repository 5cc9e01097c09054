// Fixed-layout records to text lines in native code, by a program of ops made in TypeScript
// (native/formatter.cc): the addon knows neither the record layout nor the output format. What
// the program cannot write exactly is handed back, record by record, to be written in JS.
import { native } from './native.js';

/** The ops of a formatter program and their u32 arguments (the addon defines the numbers). */
export const FormatOp = native.formatterOps as {
  /** idx: literal bytes */
  LIT: number;
  /** size off shift mask: decimal of (field >> shift) & mask (mask 0: every bit; no shift or mask on 8 bytes) */
  NUM: number;
  /** size off shift mask: true or false */
  BOOL: number;
  /** off max: a JSON string of the NUL-terminated bytes (at most max); not plain ASCII: JS writes the record */
  STR: number;
  /** lenSize lenOff dataOff max: base64 of len bytes at dataOff; len > max: JS writes the record */
  BASE64: number;
  /** table size off: the table's bytes for the field's value; no entry: FormatStatus.NEED */
  TABLE: number;
  /** size off mask n: skip n u32s when (field & mask) == 0 */
  JUMP_ZERO: number;
  /** size off mask n: skip n u32s when (field & mask) != 0 */
  JUMP_NONZERO: number;
  /** n: skip n u32s */
  JUMP: number;
  /** size off mask: JS writes the record when (field & mask) != 0 */
  JS_IF_ANY: number;
  /** size off value: JS writes the record when field != value */
  JS_IF_NOT: number;
  /** n: JS writes the record when it is shorter than n bytes */
  JS_IF_SHORT: number;
};

export const FormatStatus = {
  /** Every record asked for is written. */
  DONE: 0,
  /** `out` (or `ends`) has no room for the next record. */
  FULL: 1,
  /** The next record is for JS to write (the program cannot write it exactly). */
  JS: 2,
  /** The next record needs a table entry: `need` says which; setEntry() it and go on. */
  NEED: 3,
} as const;
export type FormatStatus = (typeof FormatStatus)[keyof typeof FormatStatus];

export interface FormatProgram {
  ops: Uint32Array;
  literals: readonly Uint8Array[];
  /** How many tables TABLE ops use (filled on demand with setEntry()). */
  tables: number;
}

export class FormatterProgramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatterProgramError';
  }
}

export class RecordFormatter {
  private readonly state = new Uint32Array(5);
  private readonly n: ReturnType<typeof create>;

  /** Throws FormatterProgramError for a program the addon refuses (an op it does not know, a bad jump, ...). */
  constructor(program: FormatProgram) {
    try {
      this.n = create(program, this.state);
    } catch (e) {
      throw new FormatterProgramError((e as Error).message);
    }
  }

  setEntry(table: number, key: number, bytes: Uint8Array): void {
    this.n.setEntry(table, key, bytes);
  }

  /**
   * Writes records [from, to) of `data` (offsets: offset and length pairs) as lines into `out`
   * from outPos, each line's end (after its '\n') into `ends` from endsUsed. Returns why it
   * stopped; `next`, `outPos` and `endsUsed` say where.
   */
  format(
    data: Uint8Array,
    offsets: Uint32Array,
    from: number,
    to: number,
    out: Uint8Array,
    outPos: number,
    ends: Uint32Array,
    endsUsed: number,
  ): FormatStatus {
    return this.n.format(data, offsets, from, to, out, outPos, ends, endsUsed) as FormatStatus;
  }

  /** The first record not written. */
  get next(): number {
    return this.state[0] ?? 0;
  }

  get outPos(): number {
    return this.state[1] ?? 0;
  }

  get endsUsed(): number {
    return this.state[2] ?? 0;
  }

  /** After NEED: the table and the key missing. */
  get need(): { table: number; key: number } {
    return { table: this.state[3] ?? 0, key: this.state[4] ?? 0 };
  }
}

function create(p: FormatProgram, state: Uint32Array): InstanceType<typeof native.RecordFormatter> {
  const total = p.literals.reduce((n, l) => n + l.length, 0);
  const bytes = new Uint8Array(total);
  const ranges = new Uint32Array(p.literals.length * 2);
  let at = 0;
  p.literals.forEach((l, i) => {
    bytes.set(l, at);
    ranges[2 * i] = at;
    ranges[2 * i + 1] = l.length;
    at += l.length;
  });
  return new native.RecordFormatter(p.ops, bytes, ranges, p.tables, state);
}
