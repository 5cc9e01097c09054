// Ring buffer record -> Event (retis JSON shape). Runs inside the ring buffer callback, reading
// the record in place through a DataView; offsets come from the object's BTF (layout.ts). The
// header (who, when, where) is read here; every other section by the codec of the collector
// that writes it.
import type { Event } from '@retrace/events';
import { Sec, baseRecordSize, type RecordLayouts } from './layout.js';
import { checkRecord, cstr, requireOffsets, RecordError } from './record-header.js';
import { inSchemaOrder, recordRef, type RecordRef, type SectionCodec } from './section.js';

export { RecordError };

export interface ProbeIdentity {
  symbol: string;
  probeType: string;
  /** For USDT: the binary path. */
  path?: string;
}

const HEADER = ['version', 'probe_id', 'present', 'cpu', 'timestamp', 'pid', 'tgid', 'comm', 'ip', 'stack_id'] as const;

export class RecordDecoder {
  private readonly o: Record<(typeof HEADER)[number], number>;
  private readonly header: { size: number; version: number; probeId: number };
  private readonly sections: SectionCodec[];
  private readonly r: RecordRef = recordRef();

  constructor(
    layouts: RecordLayouts,
    private readonly probes: ProbeIdentity[],
    /** The sections of the collectors that run. */
    sections: readonly SectionCodec[] = [],
    private readonly stack: (id: number) => string[] | undefined = () => undefined,
  ) {
    this.o = requireOffsets(layouts.event, HEADER) as Record<(typeof HEADER)[number], number>;
    this.header = { size: baseRecordSize(layouts), version: this.o.version, probeId: this.o.probe_id };
    this.sections = inSchemaOrder(sections);
  }

  decode(view: DataView, buf: Buffer, at: number, len: number): Event {
    const probe = this.probes[checkRecord(view, at, len, this.header, this.probes.length)] as ProbeIdentity;
    const o = this.o;
    const present = view.getUint32(at + o.present, true);
    const pid = view.getUint32(at + o.pid, true);
    const tgid = view.getUint32(at + o.tgid, true);
    const ev: Event = {
      common: {
        timestamp: view.getBigUint64(at + o.timestamp, true),
        smp_id: view.getUint32(at + o.cpu, true),
        task: { pid, tgid, comm: cstr(buf, at + o.comm, 16) },
      },
    };
    if (present & Sec.USERSPACE) {
      ev.userspace = {
        probe_type: 'usdt',
        symbol: probe.symbol,
        ip: view.getBigUint64(at + o.ip, true),
        path: probe.path ?? '',
        pid: tgid,
        tid: pid,
      };
    } else {
      ev.kernel = { symbol: probe.symbol, probe_type: probe.probeType };
      if (present & Sec.STACK) {
        const frames = this.stack(view.getInt32(at + o.stack_id, true));
        if (frames) ev.kernel.stack_trace = frames;
      }
    }
    const r = this.r;
    r.view = view;
    r.buf = buf;
    r.at = at;
    r.len = len;
    r.present = present;
    for (const s of this.sections) s.decodeInto(ev, r);
    return ev;
  }
}
