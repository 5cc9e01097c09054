// Record -> JSON line in JS, without an Event for the sections that have templates (their
// program run in JS): the records the native formatter hands back (stack traces, parts without
// a template, text that is not ASCII). It must write exactly what
// stringifyEvent(RecordDecoder.decode(...)) writes (same fields, same order); a test compares
// the two on live records.
import { integerJson } from '@retrace/events';
import { Sec, baseRecordSize, type RecordLayouts } from './layout.js';
import type { ProbeIdentity } from './record.js';
import { checkRecord, cstr, requireOffsets } from './record-header.js';
import { JsonTemplate } from './json-template.js';
import { inSchemaOrder, recordRef, type RecordRef, type SectionCodec } from './section.js';

const HEADER = ['version', 'probe_id', 'present', 'cpu', 'timestamp', 'pid', 'tgid', 'comm', 'stack_id'] as const;

export class RecordJsonWriter {
  private readonly o: Record<(typeof HEADER)[number], number>;
  private readonly header: { size: number; version: number; probeId: number };
  /** Per probe: the constant `"kernel":{"symbol":..,"probe_type":..` prefix. */
  private readonly kernelPrefix: string[];
  /** Per section in the schema's order: its JSON (`,"key":{...}` or ''). */
  private readonly sections: ((r: RecordRef) => string)[];
  private readonly r: RecordRef = recordRef();

  constructor(
    layouts: RecordLayouts,
    probes: ProbeIdentity[],
    /** The sections of the collectors that run. */
    sections: readonly SectionCodec[],
    private readonly stack: (id: number) => string[] | undefined = () => undefined,
  ) {
    this.o = requireOffsets(layouts.event, HEADER) as Record<(typeof HEADER)[number], number>;
    this.header = { size: baseRecordSize(layouts), version: this.o.version, probeId: this.o.probe_id };
    this.kernelPrefix = probes.map(
      (p) => `"kernel":{"symbol":${JSON.stringify(p.symbol)},"probe_type":${JSON.stringify(p.probeType)}`,
    );
    const present = { off: this.o.present, size: layouts.event.fields['present']?.size ?? 4 };
    this.sections = inSchemaOrder(sections).map((c) => {
      if (!c.template) return (r) => c.decodedJson(r);
      const t = new JsonTemplate(present);
      c.template(t);
      return t.runner();
    });
  }

  /** Undefined for records this fast path does not cover (USDT): use the decoder for those. */
  json(view: DataView, buf: Buffer, base: number, len: number): string | undefined {
    const o = this.o;
    const prefix = this.kernelPrefix[checkRecord(view, base, len, this.header, this.kernelPrefix.length)] as string;
    const present = view.getUint32(base + o.present, true);
    if (present & Sec.USERSPACE) return undefined;
    const u32 = (off: number): number => view.getUint32(base + off, true);
    let s = `{"common":{"timestamp":${integerJson(view.getBigUint64(base + o.timestamp, true))},"smp_id":${u32(o.cpu)},"task":{"pid":${u32(o.pid)},"tgid":${u32(o.tgid)},"comm":${JSON.stringify(cstr(buf, base + o.comm, 16))}}},${prefix}`;
    if (present & Sec.STACK) {
      const frames = this.stack(view.getInt32(base + o.stack_id, true));
      if (frames) s += `,"stack_trace":${JSON.stringify(frames)}`;
    }
    s += '}';
    const r = this.r;
    r.view = view;
    r.buf = buf;
    r.at = base;
    r.len = len;
    r.present = present;
    for (const json of this.sections) s += json(r);
    return `${s}}`;
  }
}
