// The native record formatter writes exactly what JavaScript would (numbers, JSON strings,
// base64), hands back what it cannot write exactly, and refuses programs it could misrun.
import { FormatOp, FormatStatus, FormatterProgramError, RecordFormatter, type FormatProgram } from '../src/index.js';

const enc = new TextEncoder();

function program(ops: number[], literals: string[] = [], tables = 0): FormatProgram {
  return { ops: Uint32Array.from(ops), literals: literals.map((l) => enc.encode(l)), tables };
}

/** Runs a formatter over records (each a Buffer); the lines written and how it stopped. */
function run(
  f: RecordFormatter,
  records: Buffer[],
  outBytes = 1 << 16,
): { lines: string[]; status: number; next: number } {
  const data = Buffer.concat(records);
  const offsets = new Uint32Array(records.length * 2);
  let at = 0;
  records.forEach((r, i) => {
    offsets[2 * i] = at;
    offsets[2 * i + 1] = r.length;
    at += r.length;
  });
  const out = Buffer.alloc(outBytes);
  const ends = new Uint32Array(records.length + 1);
  const status = f.format(data, offsets, 0, records.length, out, 0, ends, 0);
  const lines = [...ends.subarray(0, f.endsUsed)].map((e, i) => out.toString('utf8', i ? ends[i - 1] : 0, e - 1));
  return { lines, status, next: f.next };
}

test('numbers of every size are written in decimal as JavaScript writes them', () => {
  const f = new RecordFormatter(program([FormatOp.NUM, 8, 0, 0, 0, FormatOp.LIT, 0, FormatOp.NUM, 4, 8, 0, 0], [' ']));
  const values = [0n, 9n, 10n, 99n, 100n, 12345678n, 99999999n, 100000000n, 4294967295n, 4294967296n];
  values.push(9999999999999999n, 10000000000000000n, 18446744073709551615n, 18446612689150963072n);
  for (let i = 0; i < 2000; i++)
    values.push(BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 53)) << BigInt(i % 12)));
  const records = values.map((v, i) => {
    const b = Buffer.alloc(12);
    b.writeBigUInt64LE(v, 0);
    b.writeUInt32LE((i * 2654435761) >>> 0, 8);
    return b;
  });
  const { lines, status } = run(f, records, 1 << 20);
  expect(status).toBe(FormatStatus.DONE);
  expect(lines).toEqual(values.map((v, i) => `${v} ${(i * 2654435761) >>> 0}`));
});

test('bit fields and booleans: shift and mask as the templates ask', () => {
  const ops = [FormatOp.NUM, 2, 0, 13, 0, FormatOp.LIT, 0, FormatOp.BOOL, 2, 0, 12, 1, FormatOp.LIT, 0];
  ops.push(FormatOp.NUM, 2, 0, 0, 0xfff, FormatOp.LIT, 0, FormatOp.BOOL, 1, 2, 0, 0);
  const f = new RecordFormatter(program(ops, [',']));
  const rec = (tci: number, flag: number): Buffer => Buffer.from([tci & 0xff, tci >> 8, flag]);
  expect(run(f, [rec(0xf123, 0), rec(0x1fff, 2)]).lines).toEqual(['7,true,291,false', '0,true,4095,true']);
});

test('strings are JSON strings as JSON.stringify writes them; text that is not ASCII goes to JS', () => {
  const f = new RecordFormatter(program([FormatOp.STR, 0, 16]));
  const texts = ['ping', 'a"b\\c', 'tab\there', '\x01\x07\x08\x0b\x0c\x0d\x1f\x7f', '', 'sixteen-chars-xx'];
  const records = texts.map((t) => {
    const b = Buffer.alloc(16);
    b.write(t, 'latin1');
    return b;
  });
  const { lines, status } = run(f, records);
  expect(status).toBe(FormatStatus.DONE);
  expect(lines).toEqual(texts.map((t) => JSON.stringify(t)));
  const utf8 = Buffer.alloc(16);
  utf8.write('café', 'utf8');
  expect(run(f, [records[0] as Buffer, utf8])).toMatchObject({ status: FormatStatus.JS, next: 1, lines: ['"ping"'] });
});

test('base64 of every length as Buffer writes it; a length past its field goes to JS', () => {
  const f = new RecordFormatter(program([FormatOp.BASE64, 4, 0, 4, 40]));
  const records: Buffer[] = [];
  for (let n = 0; n <= 40; n++) {
    const b = Buffer.alloc(44);
    b.writeUInt32LE(n, 0);
    for (let k = 0; k < 40; k++) b[4 + k] = (n * 31 + k * 7) & 0xff;
    records.push(b);
  }
  const { lines, status } = run(f, records);
  expect(status).toBe(FormatStatus.DONE);
  expect(lines).toEqual(records.map((b) => b.toString('base64', 4, 4 + b.readUInt32LE(0))));
  const tooLong = Buffer.alloc(44);
  tooLong.writeUInt32LE(41, 0);
  expect(run(f, [tooLong]).status).toBe(FormatStatus.JS);
});

test('a table asks for what it lacks, once, then writes it', () => {
  const f = new RecordFormatter(program([FormatOp.TABLE, 0, 4, 0], [], 1));
  const rec = (v: number): Buffer => Buffer.from(Uint32Array.of(v).buffer);
  expect(run(f, [rec(7)])).toMatchObject({ status: FormatStatus.NEED, next: 0, lines: [] });
  expect(f.need).toEqual({ table: 0, key: 7 });
  f.setEntry(0, 7, enc.encode('"SEVEN"'));
  expect(run(f, [rec(7), rec(7), rec(8)])).toMatchObject({ status: FormatStatus.NEED, next: 2 });
  expect(f.need).toEqual({ table: 0, key: 8 });
});

test('conditions jump over what a record lacks; checks hand records to JS', () => {
  // if (b0 & 1) "one" else "none"; then JS for b1 != 1 and for records shorter than 3 bytes.
  const ops = [FormatOp.JS_IF_SHORT, 3, FormatOp.JS_IF_NOT, 1, 1, 1, FormatOp.JS_IF_ANY, 1, 2, 0x80];
  ops.push(FormatOp.JUMP_ZERO, 1, 0, 1, 4, FormatOp.LIT, 0, FormatOp.JUMP, 2, FormatOp.LIT, 1);
  const f = new RecordFormatter(program(ops, ['one', 'none']));
  expect(run(f, [Buffer.from([1, 1, 0]), Buffer.from([2, 1, 0])]).lines).toEqual(['one', 'none']);
  expect(run(f, [Buffer.from([1, 1])]).status).toBe(FormatStatus.JS);
  expect(run(f, [Buffer.from([1, 2, 0])]).status).toBe(FormatStatus.JS);
  expect(run(f, [Buffer.from([1, 1, 0x80])]).status).toBe(FormatStatus.JS);
});

test('a field past the end of its record is never read: JS gets the record', () => {
  const f = new RecordFormatter(program([FormatOp.NUM, 8, 4, 0, 0]));
  expect(run(f, [Buffer.alloc(11)]).status).toBe(FormatStatus.JS);
  expect(run(f, [Buffer.alloc(12)]).lines).toEqual(['0']);
});

test('no room for the next whole line: it stops before it, and what came before stays whole', () => {
  const f = new RecordFormatter(program([FormatOp.LIT, 0], ['x'.repeat(20)]));
  // 20 bytes and a newline per line, plus the formatter's own slack of 32 bytes.
  const r = run(f, [Buffer.alloc(1), Buffer.alloc(1), Buffer.alloc(1)], 21 * 2 + 32);
  expect(r).toMatchObject({ status: FormatStatus.FULL, next: 2 });
  expect(r.lines).toEqual(['x'.repeat(20), 'x'.repeat(20)]);
});

test('programs it could misrun are refused, saying why', () => {
  const bad: [number[], RegExp][] = [
    [[99], /unknown op 99/],
    [[FormatOp.NUM, 3, 0, 0, 0], /bad number field/],
    [[FormatOp.NUM, 4, 0], /lacks arguments/],
    [[FormatOp.LIT, 1], /no literal 1/],
    [[FormatOp.TABLE, 0, 4, 0], /bad table op/],
    [[FormatOp.JUMP, 1, FormatOp.LIT, 0], /a jump lands inside an op/],
    [[FormatOp.JUMP, 5], /a jump lands inside an op/],
  ];
  for (const [ops, why] of bad) {
    expect(() => new RecordFormatter(program(ops, ['a']))).toThrow(FormatterProgramError);
    expect(() => new RecordFormatter(program(ops, ['a']))).toThrow(why);
  }
});

test('records and buffers of the wrong kind are refused, not misread', () => {
  const f = new RecordFormatter(program([FormatOp.LIT, 0], ['a']));
  const out = Buffer.alloc(64);
  const ends = new Uint32Array(1);
  const wrong = new Uint16Array(8) as unknown as Uint8Array;
  expect(() => f.format(wrong, Uint32Array.of(0, 1), 0, 1, out, 0, ends, 0)).toThrow(/data must be a Uint8Array/);
  expect(() => f.format(Buffer.alloc(1), Uint32Array.of(0, 1), 0, 2, out, 0, ends, 0)).toThrow(/out of range/);
});
