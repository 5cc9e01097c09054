// Records -> retis JSON lines as bytes, for `collect -o FILE`: the native formatter writes each
// record straight from the ring buffer into one large buffer, by a program made here from the
// header and the sections' templates; the records it hands back (stack traces, USDT, parts
// without a template, text that is not ASCII, bad records) are written by the JS writer or the
// decoder, in their place. The lines go to the sink in large chunks, never one by one.
import { FormatStatus, RecordFormatter, type RecordBatch } from '@retrace/ebpf-loader';
import { stringifyEvent } from '@retrace/events';
import { EVENT_VERSION, Sec, baseRecordSize, type RecordLayouts } from './layout.js';
import { JsonTemplate, type TableLookup } from './json-template.js';
import type { ProbeIdentity, RecordDecoder } from './record.js';
import { requireFields } from './record-header.js';
import type { RecordJsonWriter } from './record-json.js';
import { inSchemaOrder, type SectionCodec } from './section.js';

/**
 * Whole lines, valid during the sink's call only (the bytes are reused): line i is
 * buf[i ? ends[i-1] : 0 .. ends[i]), its '\n' included.
 */
export interface JsonLines {
  buf: Buffer;
  ends: Uint32Array;
  count: number;
}

export type JsonLinesSink = (lines: JsonLines) => void;

const HEADER = ['version', 'present', 'probe_id', 'timestamp', 'cpu', 'pid', 'tgid', 'comm'] as const;

/**
 * The program of a whole line: the header's checks (what only JS may write), the header, then
 * each section's template in the schema's order. Undefined when a section has neither a
 * template nor the bits that say which records have it: every record is then written in JS.
 */
export function lineTemplate(
  layouts: RecordLayouts,
  probes: readonly ProbeIdentity[],
  sections: readonly SectionCodec[],
): JsonTemplate | undefined {
  const f = requireFields(layouts.event, HEADER);
  const t = new JsonTemplate(f.present);
  t.jsIfShort(baseRecordSize(layouts))
    .jsIfNot(f.version, EVENT_VERSION)
    .jsIfAny(f.present, Sec.USERSPACE | Sec.STACK);
  // An unknown probe id has no text: JS writes the record, and reports it.
  const kernel: TableLookup = (id) => {
    const p = probes[id];
    return p && `"kernel":{"symbol":${JSON.stringify(p.symbol)},"probe_type":${JSON.stringify(p.probeType)}}`;
  };
  t.lit('{"common":{"timestamp":')
    .num(f.timestamp)
    .lit(',"smp_id":')
    .num(f.cpu)
    .lit(',"task":{"pid":')
    .num(f.pid)
    .lit(',"tgid":')
    .num(f.tgid)
    .lit(',"comm":')
    .str(f.comm.off, f.comm.size)
    .lit('}},')
    .table(f.probe_id, kernel);
  for (const c of inSchemaOrder(sections)) {
    if (c.template) c.template(t);
    else if (c.bits !== undefined) t.jsIfAny(f.present, c.bits);
    else return undefined;
  }
  return t.lit('}');
}

export class RecordLines {
  private readonly out: Buffer;
  private readonly ends: Uint32Array;
  private pos = 0;
  private used = 0;
  private readonly formatter: RecordFormatter | undefined;
  private readonly tables: TableLookup[];
  private readonly enc = new TextEncoder();
  /** Lines written by the formatter and by JS (records it handed back, and lines from line()). */
  readonly written = { native: 0, js: 0 };

  constructor(
    layouts: RecordLayouts,
    probes: readonly ProbeIdentity[],
    sections: readonly SectionCodec[],
    /** The JS writers, for what the formatter hands back. */
    private readonly js: { writer: RecordJsonWriter; decoder: RecordDecoder },
    private readonly sink: JsonLinesSink,
    bufferBytes = 1 << 20,
  ) {
    this.out = Buffer.allocUnsafeSlow(bufferBytes);
    this.ends = new Uint32Array(bufferBytes >> 6);
    const t = lineTemplate(layouts, probes, sections);
    this.tables = t?.tables ?? [];
    this.formatter = t && new RecordFormatter(t.program());
  }

  /**
   * Writes records [from, to) of the batch as lines. A record that cannot be read goes to
   * onError and is skipped; returns how many lines were written.
   */
  write(batch: RecordBatch, from: number, to: number, onError: (e: Error) => void): number {
    const f = this.formatter;
    let written = 0;
    let i = from;
    while (i < to) {
      if (!f) {
        written += this.writeInJs(batch, i++, onError);
        continue;
      }
      const used = this.used;
      const status = f.format(batch.buffer, batch.offsets, i, to, this.out, this.pos, this.ends, used);
      written += f.endsUsed - used;
      this.written.native += f.endsUsed - used;
      this.pos = f.outPos;
      this.used = f.endsUsed;
      i = f.next;
      if (status === FormatStatus.DONE) break;
      if (status === FormatStatus.FULL) {
        // A line larger than the whole buffer: JS writes it (line() sends it on its own).
        if (this.used === 0) written += this.writeInJs(batch, i++, onError);
        else this.flush();
      } else if (status === FormatStatus.NEED) {
        const { table, key } = f.need;
        const text = this.tables[table]?.(key);
        if (text === undefined) written += this.writeInJs(batch, i++, onError);
        else f.setEntry(table, key, this.enc.encode(text));
      } else {
        written += this.writeInJs(batch, i++, onError);
      }
    }
    return written;
  }

  /** One line made elsewhere (an event a collector emits), after those buffered. */
  line(text: string): void {
    const n = Buffer.byteLength(text);
    if (this.pos + n + 1 > this.out.length || this.used === this.ends.length) this.flush();
    if (n + 1 > this.out.length) {
      this.written.js++;
      this.sink({ buf: Buffer.from(`${text}\n`), ends: Uint32Array.of(n + 1), count: 1 });
      return;
    }
    this.written.js++;
    this.pos += this.out.write(text, this.pos, 'utf8');
    this.out[this.pos++] = 10;
    this.ends[this.used++] = this.pos;
  }

  /** Hands the buffered lines to the sink. */
  flush(): void {
    if (!this.used) return;
    const count = this.used;
    this.used = 0;
    this.pos = 0;
    this.sink({ buf: this.out, ends: this.ends, count });
  }

  private writeInJs(b: RecordBatch, i: number, onError: (e: Error) => void): number {
    const at = b.offset(i);
    const len = b.length(i);
    let text: string;
    try {
      text =
        this.js.writer.json(b.view, b.buffer, at, len) ??
        stringifyEvent(this.js.decoder.decode(b.view, b.buffer, at, len));
    } catch (e) {
      onError(e as Error);
      return 0;
    }
    this.line(text);
    return 1;
  }
}
