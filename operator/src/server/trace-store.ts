// The aggregator's embedded store: per trace, segment files of length-delimited Event messages
// (the bytes an agent sent, with the journey section appended: protobuf merges a field appended
// to a message), written journey by journey, capped in total size (the oldest segment goes, and
// its events are counted), plus the trace's summary. Survives restarts; a record cut short by a
// crash is found on open, reported, and cut off.
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, type Event, type TraceSummary } from '@retrace/events';
import { journeySection, type Journey } from '../aggregator/index.js';

export interface TraceStoreOptions {
  /** Total bytes per trace before the oldest segment is evicted (default 256 MiB). */
  capBytes?: number;
  segmentBytes?: number;
  onWarning?: (msg: string) => void;
}

export interface StoreFilter {
  node?: string;
  /** namespace/name */
  pod?: string;
  dropReason?: string;
}

interface Segment {
  file: string;
  bytes: number;
}

interface TraceFiles {
  name: string;
  dir: string;
  segments: Segment[];
  fd: number | undefined;
  evicted: number;
}

const JOURNEY_TAG = Buffer.from([0x8a, 0x01]); // field 17 (journey), length-delimited

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Reads a varint at `pos`; undefined when the buffer ends first. */
function readVarint(b: Buffer, pos: number): { value: number; next: number } | undefined {
  let v = 0;
  let mul = 1;
  for (let i = pos; i < b.length && i < pos + 8; i++) {
    const x = b[i] as number;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return { value: v, next: i + 1 };
    mul *= 128;
  }
  return undefined;
}

const safeName = (trace: string): string => encodeURIComponent(trace).replace(/%/g, '_');

export class TraceStore {
  private readonly traces = new Map<string, TraceFiles>();
  private readonly cap: number;
  private readonly segmentBytes: number;

  private constructor(
    readonly dir: string,
    private readonly opts: TraceStoreOptions,
  ) {
    this.cap = opts.capBytes ?? 256 << 20;
    this.segmentBytes = opts.segmentBytes ?? Math.min(8 << 20, Math.max(64 << 10, Math.floor(this.cap / 8)));
  }

  static open(dir: string, opts: TraceStoreOptions = {}): TraceStore {
    mkdirSync(dir, { recursive: true });
    const s = new TraceStore(dir, opts);
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      const tdir = join(dir, d.name);
      let name: string;
      try {
        name = (JSON.parse(readFileSync(join(tdir, 'trace.json'), 'utf8')) as { name: string }).name;
      } catch {
        continue;
      }
      const segments = readdirSync(tdir)
        .filter((f) => /^segment-\d+\.pb$/.test(f))
        .sort()
        .map((f) => ({ file: join(tdir, f), bytes: statSync(join(tdir, f)).size }));
      const t: TraceFiles = { name, dir: tdir, segments, fd: undefined, evicted: 0 };
      try {
        t.evicted = (JSON.parse(readFileSync(join(tdir, 'evicted.json'), 'utf8')) as { evicted: number }).evicted;
      } catch {
        // none evicted yet
      }
      const last = segments.at(-1);
      if (last) s.repair(last);
      s.traces.set(name, t);
    }
    return s;
  }

  /** Cuts off a record a crash left incomplete at the end of a segment. */
  private repair(seg: Segment): void {
    const b = readFileSync(seg.file);
    let pos = 0;
    while (pos < b.length) {
      const len = readVarint(b, pos);
      if (!len || len.next + len.value > b.length) break;
      pos = len.next + len.value;
    }
    if (pos < b.length) {
      this.opts.onWarning?.(
        `${seg.file}: the last record is incomplete (byte ${pos} of ${b.length}; the aggregator stopped while writing): cut off, earlier records kept`,
      );
      const fd = openSync(seg.file, 'r+');
      ftruncateSync(fd, pos);
      closeSync(fd);
      seg.bytes = pos;
    }
  }

  private files(trace: string): TraceFiles {
    let t = this.traces.get(trace);
    if (!t) {
      const dir = join(this.dir, safeName(trace));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'trace.json'), JSON.stringify({ name: trace }));
      t = { name: trace, dir, segments: [], fd: undefined, evicted: 0 };
      this.traces.set(trace, t);
    }
    return t;
  }

  /** Appends a released journey's events, each with its journey section. */
  append(trace: string, j: Journey): void {
    const t = this.files(trace);
    const parts: Buffer[] = [];
    for (const e of j.events) {
      const section = encodeMessage('Journey', journeySection(e, j));
      const len = e.raw.length + JOURNEY_TAG.length + varint(section.length).length + section.length;
      parts.push(
        varint(len),
        Buffer.from(e.raw.buffer, e.raw.byteOffset, e.raw.length),
        JOURNEY_TAG,
        varint(section.length),
        section,
      );
    }
    const data = Buffer.concat(parts);
    let seg = t.segments.at(-1);
    if (!seg || seg.bytes >= this.segmentBytes) {
      if (t.fd !== undefined) closeSync(t.fd);
      const n = seg ? Number(/segment-(\d+)/.exec(seg.file)?.[1] ?? 0) + 1 : 1;
      seg = { file: join(t.dir, `segment-${String(n).padStart(6, '0')}.pb`), bytes: 0 };
      t.segments.push(seg);
      t.fd = openSync(seg.file, 'a');
    }
    t.fd ??= openSync(seg.file, 'a');
    writeSync(t.fd, data);
    seg.bytes += data.length;
    this.enforceCap(t);
  }

  private enforceCap(t: TraceFiles): void {
    let total = t.segments.reduce((n, s) => n + s.bytes, 0);
    while (total > this.cap && t.segments.length > 1) {
      const old = t.segments.shift() as Segment;
      t.evicted += [...this.records(old.file)].length;
      rmSync(old.file, { force: true });
      total -= old.bytes;
      writeFileSync(join(t.dir, 'evicted.json'), JSON.stringify({ evicted: t.evicted }));
    }
  }

  private *records(file: string): Generator<Buffer> {
    let b: Buffer;
    try {
      b = readFileSync(file);
    } catch {
      return;
    }
    let pos = 0;
    while (pos < b.length) {
      const len = readVarint(b, pos);
      if (!len || len.next + len.value > b.length) return;
      yield b.subarray(len.next, len.next + len.value);
      pos = len.next + len.value;
    }
  }

  /** Stored events in order; with a filter, only whole journeys that match it. */
  *events(trace: string, filter: StoreFilter = {}): Generator<{ raw: Uint8Array; event: Event }> {
    const t = this.traces.get(trace);
    if (!t) return;
    const filtering = !!(filter.node || filter.pod || filter.dropReason);
    let group: { raw: Uint8Array; event: Event }[] = [];
    let gid: string | undefined;
    const matches = (g: { event: Event }[]): boolean =>
      (!filter.node || g.some((x) => x.event.k8s?.node === filter.node)) &&
      (!filter.pod || g.some((x) => `${x.event.k8s?.namespace}/${x.event.k8s?.pod}` === filter.pod)) &&
      (!filter.dropReason || g.some((x) => x.event['skb-drop']?.drop_reason === filter.dropReason));
    for (const seg of [...t.segments])
      for (const raw of this.records(seg.file)) {
        const event = decodeMessage<Event>('Event', raw);
        if (!filtering) {
          yield { raw, event };
          continue;
        }
        const id = event.journey?.id;
        if (group.length && (id !== gid || event.journey?.idx === 0)) {
          if (matches(group)) yield* group;
          group = [];
        }
        gid = id;
        group.push({ raw, event });
      }
    if (group.length && matches(group)) yield* group;
  }

  listTraces(): string[] {
    return [...this.traces.keys()];
  }

  storedBytes(trace: string): number {
    return this.traces.get(trace)?.segments.reduce((n, s) => n + s.bytes, 0) ?? 0;
  }

  evicted(trace: string): number {
    return this.traces.get(trace)?.evicted ?? 0;
  }

  saveSummary(trace: string, s: TraceSummary): void {
    const t = this.files(trace);
    const tmp = join(t.dir, 'summary.json.tmp');
    writeFileSync(tmp, encodeMessage('TraceSummary', s).toString('base64'));
    renameSync(tmp, join(t.dir, 'summary.json'));
  }

  summary(trace: string): TraceSummary | undefined {
    const t = this.traces.get(trace);
    const f = t && join(t.dir, 'summary.json');
    if (!f || !existsSync(f)) return undefined;
    return decodeMessage<TraceSummary>('TraceSummary', Buffer.from(readFileSync(f, 'utf8'), 'base64'));
  }

  /** Small state of the aggregator's own (e.g. the link's cursors), kept next to the traces. */
  saveState(key: string, value: unknown): void {
    const tmp = join(this.dir, `${key}.json.tmp`);
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, join(this.dir, `${key}.json`));
  }

  state(key: string): unknown {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8'));
    } catch {
      return undefined;
    }
  }

  close(): void {
    for (const t of this.traces.values())
      if (t.fd !== undefined) {
        closeSync(t.fd);
        t.fd = undefined;
      }
  }
}
