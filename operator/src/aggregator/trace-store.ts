// Where released journeys go: an embedded, size-capped store with one directory per trace, so
// that `retrace events` can read a trace back (filtered) after the fact and after a restart.
//
// <dir>/<trace, sanitised>/
//   trace.json          the trace's name (directory names are sanitised) and evicted count
//   meta.json           the last saved TraceSummary (written to a temporary file, then renamed)
//   seg-00000001.rec    records: varint length + the event's protobuf bytes as the agent sent
//   seg-00000002.rec    them, with its Journey section (field 17) appended; protobuf merges a
//   ...                 repeated message field, so the bytes decode as the event plus `journey`
// <dir>/.state/<key>.json   small JSON documents for the aggregator (saveState / state)
//
// Each segment's index (record offsets, journey id, node, pod, drop reason) is kept in memory in
// typed arrays, and rebuilt on open by reading those few fields of each record without decoding
// the rest. Filters apply per journey: a journey is returned whole when any of its events
// matches each filter given. When a trace's segments pass the cap, the oldest segment goes.
// Appends are gathered in memory and written a chunk at a time (PENDING_BYTES, or flush(), which
// the aggregator calls a few times a second): one write per journey cost more than sorting it.
// The thread pool writes each chunk at its place in the segment file; reads and close first
// write synchronously whatever is not known to be written. Nothing is fsynced: a crash loses what was pending or what the OS
// had not written, and a record cut in the middle is found on open, reported and cut off
// (nothing before it is lost).
import {
  close,
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  open,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  write,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import {
  QUERY_FIELDS,
  decodeMessage,
  ProtoDecodeError,
  ProtoWriter,
  fieldNumber,
  type Event,
  type Journey as JourneySection,
  type FieldSpec,
  type TraceSummary,
} from '@retrace/events';
import type { Journey, SortedEvent } from './journey-sorter.js';
import { readSortKeys, type SortKeys } from './sort-keys.js';

export interface TraceStoreOptions {
  /** Bytes of segments per trace before the oldest segment is evicted (default 256 MiB). */
  capBytes?: number;
  /** A segment is closed and a new one started past this size (default 8 MiB). */
  segmentBytes?: number;
  /** Problems found on open (cut records, unreadable files), as they are repaired. */
  onWarning?: (message: string, warning: StoreWarning) => void;
}

export interface StoreFilter {
  node?: string;
  /** `namespace/name` */
  pod?: string;
  dropReason?: string;
}

export interface StoreWarning {
  trace: string;
  file: string;
  /** Byte offset in the file where the problem starts. */
  offset: number;
  message: string;
}

/** The disk refused a write or an fsync of the store (full, read-only, failing). */
export class StoreWriteError extends Error {
  constructor(
    readonly file: string,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(
      `${file}: ${cause.code === 'ENOSPC' ? 'the disk is full' : cause.message}; ` +
        'events are kept unacknowledged (agents buffer, then count what they drop) until the store can write again',
    );
    this.name = 'StoreWriteError';
  }
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Field numbers the store writes (from the generated tables). */
const FIELD_K8S = fieldNumber('Event', 'k8s');
const FIELD_JOURNEY = fieldNumber('Event', 'journey');

/** A varint at `pos`: [value, next position], or undefined when the bytes end inside it. */
function readVarint(b: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 8 && pos < end; i++) {
    const x = b[pos++] as number;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
  return undefined;
}

/** A growable column of uint32. */
class U32 {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  at(i: number): number {
    return this.data[i] as number;
  }
}

interface Segment {
  seq: number;
  path: string;
  bytes: number;
  /** Bytes handed to writes so far: where the next write goes. */
  written: number;
  /** Per record: where its bytes start (after the length), how many, and its index fields. */
  offset: U32;
  size: U32;
  journey: U32;
  node: U32;
  pod: U32;
  drop: U32;
  /** Journey ids of this segment, by index. */
  journeys: string[];
  journeyIds: Map<string, number>;
}

/** The index columns a filter reads. */
type IndexColumn = 'node' | 'pod' | 'drop';

interface TraceState {
  name: string;
  dir: string;
  segments: Segment[];
  bytes: number;
  evicted: number;
  nextSeq: number;
  /** The last segment's file, open for writing (opened on the first write). */
  file: SegmentFile | undefined;
  /** Records appended to the last segment, not handed to a write yet (made on the first append). */
  pending: ProtoWriter | undefined;
  /** Writes handed to the thread pool and not finished, oldest first. */
  writing: Chunk[];
  summary: TraceSummary | undefined;
  /** Node, pod and drop-reason strings by id (0: none). */
  strings: string[];
  stringIds: Map<string, number>;
}

/** A segment file open for writing; closed once it is no longer the last and its writes are done. */
interface SegmentFile {
  fd: number;
  path: string;
  writes: number;
  closeWhenDone: boolean;
}

/** Bytes written at a place in a segment file, by the thread pool. */
interface Chunk {
  file: SegmentFile;
  buf: Buffer;
  len: number;
  position: number;
}

interface RecordFields {
  journey: string;
  node: string;
  pod: string;
  drop: string;
}

const SEGMENT_RE = /^seg-(\d{8})\.rec$/;
/** Appended bytes gathered before a write. */
const PENDING_BYTES = 1 << 20;
const STATE_DIR = '.state';

/** A directory name for a trace name: reversible %-encoding, hashed when too long. */
export function traceDirName(trace: string): string {
  if (trace === '') throw new StoreError('a trace needs a name (namespace/name or name)');
  let out = '';
  for (const byte of Buffer.from(trace, 'utf8')) {
    const c = String.fromCharCode(byte);
    const plain = /[A-Za-z0-9_-]/.test(c) || (c === '.' && out !== '');
    out += plain ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > 200) out = `${out.slice(0, 150)}~${createHash('sha1').update(trace).digest('hex').slice(0, 16)}`;
  return out;
}

export class TraceStore {
  private readonly traces = new Map<string, TraceState>();
  private readonly capBytes: number;
  private readonly segmentBytes: number;
  private closed = false;
  /** A saveInBackground round is being written. */
  private backgroundRound = false;
  /** Per file, synchronous saves so far (a background save started before one is not renamed). */
  private readonly generations = new Map<string, number>();
  /** What open() found and repaired. */
  readonly warnings: StoreWarning[] = [];

  private constructor(
    readonly dir: string,
    private readonly opts: TraceStoreOptions,
  ) {
    this.capBytes = opts.capBytes ?? 256 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    for (const [name, v] of [
      ['capBytes', this.capBytes],
      ['segmentBytes', this.segmentBytes],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new StoreError(`${name} must be a whole number of bytes >= 1, got ${v}`);
    if (this.capBytes < this.segmentBytes)
      throw new StoreError(
        `capBytes (${this.capBytes}) must be at least segmentBytes (${this.segmentBytes}): ` +
          'eviction works a segment at a time',
      );
  }

  /** Opens (creating it if needed) a store directory and everything stored in it. */
  static open(dir: string, opts: TraceStoreOptions = {}): TraceStore {
    const store = new TraceStore(dir, opts);
    mkdirSync(dir, { recursive: true });
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === STATE_DIR) continue;
      store.load(join(dir, entry.name));
    }
    return store;
  }

  listTraces(): string[] {
    return [...this.traces.keys()].sort();
  }

  /** Appends a released journey (every event with its Journey section). */
  append(trace: string, j: Journey): void {
    this.check();
    if (j.events.length === 0) return;
    const t = this.trace(trace, true) as TraceState;
    let seg = t.segments[t.segments.length - 1] ?? this.startSegment(t);
    // Each record: its length, the agent's bytes as they are, then the sections the store adds
    // (protobuf merges them in), written straight into what is pending for the segment.
    let w = (t.pending ??= new ProtoWriter(PENDING_BYTES * 2));
    const first = w.pos;
    // Per record: where its bytes start (from `first`) and how many.
    const n = j.events.length;
    if (recordStarts.length < n) {
      recordStarts = new Uint32Array(n * 2);
      recordSizes = new Uint32Array(n * 2);
    }
    // Each record's Journey section (as journeySection has it), in one object reused.
    section.id = j.id;
    section.nodes = j.nodes.length;
    for (let i = 0; i < n; i++) {
      const e = j.events[i] as SortedEvent;
      const start = w.beginLength();
      w.raw(e.raw);
      // Records say where they come from even when the agent left k8s out (read back on open).
      if (!e.hasK8s) w.messageField(FIELD_K8S, 'K8s', { node: e.node });
      section.idx = e.idx;
      section.cluster_ts = e.clusterTs;
      section.late = e.late;
      w.messageField(FIELD_JOURNEY, 'Journey', section);
      const size = w.pos - start;
      w.endLength(start);
      recordStarts[i] = w.pos - size - first;
      recordSizes[i] = size;
    }
    const total = w.pos - first;
    if (seg.bytes > 0 && seg.bytes + total > this.segmentBytes) {
      // A journey goes into one segment, whole: what was pending before it goes to this one.
      const mine = Buffer.from(w.buf.subarray(first, w.pos));
      w.pos = first;
      seg = this.startSegment(t);
      w = t.pending ??= new ProtoWriter(PENDING_BYTES * 2); // the old one went with its write
      w.raw(mine);
    }
    // The index: the journey's id once; a journey's events mostly share node, pod and reason
    // (the same string objects, from the sort keys' string cache), so each is looked up when
    // it changes.
    const journey = journeyIndex(seg, j.id);
    let node = '';
    let nodeId = -1;
    let ns = '';
    let pod = '';
    let podId = -1;
    let drop = '';
    let dropId = -1;
    for (let i = 0; i < n; i++) {
      const e = j.events[i] as SortedEvent;
      const eNode = e.k8sNode || e.node;
      if (eNode !== node || nodeId < 0) nodeId = stringId(t, (node = eNode));
      if (e.namespace !== ns || e.pod !== pod || podId < 0)
        podId = stringId(t, podOf((ns = e.namespace), (pod = e.pod)));
      if (e.dropReason !== drop || dropId < 0) dropId = stringId(t, (drop = e.dropReason));
      seg.offset.push(seg.bytes + (recordStarts[i] as number));
      seg.size.push(recordSizes[i] as number);
      seg.journey.push(journey);
      seg.node.push(nodeId);
      seg.pod.push(podId);
      seg.drop.push(dropId);
    }
    seg.bytes += total;
    t.bytes += total;
    if (w.pos >= PENDING_BYTES) this.write(t);
    this.enforceCap(t);
  }

  /** Writes every trace's pending appends to its segment file. */
  flush(): void {
    this.check();
    for (const t of this.traces.values()) this.write(t);
  }

  /**
   * Everything appended is on disk when this returns: pending appends written, then each trace's
   * open segment and directory fsynced (what the aggregator acknowledges after). Throws
   * StoreWriteError naming the file when the disk refuses (full, read-only, failing).
   */
  sync(): void {
    this.check();
    for (const t of this.traces.values()) {
      const seg = t.segments[t.segments.length - 1];
      try {
        this.writeNow(t);
        if (seg && t.file) fsyncSync(t.file.fd);
        fsyncDir(t.dir);
      } catch (e) {
        throw new StoreWriteError(seg?.path ?? t.dir, e as NodeJS.ErrnoException);
      }
    }
  }

  /**
   * Per trace, its segment files and their sizes now (after sync(), what is on disk): a
   * checkpoint that rollBack() can return a store directory to.
   */
  extents(): Record<string, { file: string; bytes: number }[]> {
    const out: Record<string, { file: string; bytes: number }[]> = {};
    for (const t of this.traces.values())
      out[t.name] = t.segments.map((s) => ({ file: basename(s.path), bytes: s.written }));
    return out;
  }

  /**
   * Returns a closed store directory to `extents` (from extents(), saved by the caller): what
   * was appended since is removed (segments cut back to their size then, newer segments
   * deleted), so that events acknowledged after the checkpoint and resent are not stored twice.
   * Traces not in `extents` are left as they are; segments evicted since stay gone.
   */
  static rollBack(dir: string, extents: Record<string, { file: string; bytes: number }[]>): string[] {
    const done: string[] = [];
    for (const [trace, segs] of Object.entries(extents)) {
      const tdir = join(dir, traceDirName(trace));
      if (!existsSync(tdir)) continue;
      const keep = new Map(segs.map((s) => [s.file, s.bytes]));
      const newest = Math.max(0, ...segs.map((s) => Number(SEGMENT_RE.exec(s.file)?.[1] ?? 0)));
      for (const f of readdirSync(tdir)) {
        const m = SEGMENT_RE.exec(f);
        if (!m) continue;
        const path = join(tdir, f);
        const bytes = keep.get(f);
        if (bytes === undefined) {
          if (Number(m[1]) > newest) {
            unlinkSync(path);
            done.push(`${path}: removed (started after the checkpoint)`);
          }
          continue;
        }
        const size = statSync(path).size;
        if (size > bytes) {
          const fd = openSync(path, 'r+');
          try {
            ftruncateSync(fd, bytes);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          done.push(`${path}: ${size - bytes} bytes appended after the checkpoint removed`);
        }
      }
    }
    return done;
  }

  /** The trace's stored events in the order they were stored; none for an unknown trace. */
  *events(trace: string, filter: StoreFilter = {}): Generator<{ raw: Uint8Array; event: Event }> {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    this.writeNow(t);
    // A snapshot: appends and evictions while the caller reads do not move what it reads.
    const segments = t.segments.map((s) => ({ seg: s, count: s.offset.length }));
    const match = this.matching(t, segments, filter);
    if (match === null) return;
    for (const { seg, count } of segments) {
      let buf: Buffer;
      try {
        buf = readFileSync(seg.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // evicted meanwhile
        throw e;
      }
      for (let i = 0; i < count; i++) {
        if (match !== undefined && !match.has(seg.journeys[seg.journey.at(i)] as string)) continue;
        const off = seg.offset.at(i);
        const raw = buf.subarray(off, off + seg.size.at(i));
        yield { raw, event: decodeMessage<Event>('Event', raw) };
      }
    }
  }

  storedBytes(trace: string): number {
    return this.traces.get(trace)?.bytes ?? 0;
  }

  /** Events dropped by the size cap so far. */
  evicted(trace: string): number {
    return this.traces.get(trace)?.evicted ?? 0;
  }

  /** Saves the trace's summary (meta.json, replaced atomically). */
  saveSummary(trace: string, s: TraceSummary): void {
    this.check();
    const t = this.trace(trace, true) as TraceState;
    this.replace(join(t.dir, 'meta.json'), summaryText(s));
    t.summary = s;
  }

  /**
   * Saves summaries and states for the periodic saves of a running aggregator. The files are
   * written by the thread pool, without fsync: like the segments, they are then as safe as the
   * OS's page cache (a crash of the aggregator loses nothing written; closing saves with fsync).
   * An fsync here cost far more than the save: on ext4 it waits for every dirty file of the
   * journal, segments included, and the segment writes on the thread taking events in stalled
   * behind it. Each file is renamed into place on the caller's thread, unless a synchronous save
   * of it came since or the store was closed: newer content is never replaced by older. Returns
   * false, doing nothing, while the previous round is still being written.
   */
  saveInBackground(summaries: [string, TraceSummary][], states: [string, unknown][]): boolean {
    this.check();
    if (this.backgroundRound) return false;
    const files: [string, string][] = [];
    for (const [trace, summary] of summaries) {
      const t = this.trace(trace, true) as TraceState;
      t.summary = summary;
      files.push([join(t.dir, 'meta.json'), summaryText(summary)]);
    }
    if (states.length) mkdirSync(join(this.dir, STATE_DIR), { recursive: true });
    for (const [key, value] of states) files.push([this.stateFile(key), JSON.stringify(value, taggedBigint)]);
    if (!files.length) return true;
    this.backgroundRound = true;
    let left = files.length;
    for (const [file, text] of files) {
      const generation = this.generations.get(file) ?? 0;
      const tmp = `${file}.bg.tmp`;
      writeInBackground(tmp, text, (err) => {
        if (err)
          this.opts.onWarning?.(`${tmp}: not saved: ${err.message}`, {
            trace: '',
            file: tmp,
            offset: 0,
            message: err.message,
          });
        else if (this.closed || (this.generations.get(file) ?? 0) !== generation) rmSync(tmp, { force: true });
        else renameSync(tmp, file);
        if (--left === 0) this.backgroundRound = false;
      });
    }
    return true;
  }

  summary(trace: string): TraceSummary | undefined {
    return this.traces.get(trace)?.summary;
  }

  /** Saves a small JSON document for the aggregator (bigints kept). */
  saveState(key: string, value: unknown): void {
    this.check();
    const dir = join(this.dir, STATE_DIR);
    mkdirSync(dir, { recursive: true });
    this.replace(this.stateFile(key), JSON.stringify(value, taggedBigint));
  }

  private stateFile(key: string): string {
    return join(this.dir, STATE_DIR, `${traceDirName(key)}.json`);
  }

  /** Replaces a file at once (writeAtomically), newer than any background save of it in flight. */
  private replace(file: string, text: string): void {
    this.generations.set(file, (this.generations.get(file) ?? 0) + 1);
    writeAtomically(file, text);
  }

  state(key: string): unknown {
    const file = this.stateFile(key);
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8'), untagBigint) as unknown;
    } catch (e) {
      this.warn({ trace: '', file, offset: 0, message: `unreadable, ignored: ${(e as Error).message}` });
      return undefined;
    }
  }

  /** Removes a trace and everything stored for it. */
  deleteTrace(trace: string): void {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    this.release(t);
    rmSync(t.dir, { recursive: true, force: true });
    this.traces.delete(trace);
  }

  close(): void {
    if (this.closed) return;
    for (const t of this.traces.values()) {
      this.writeNow(t);
      this.release(t);
    }
    this.closed = true;
  }

  // --- internals ---

  private check(): void {
    if (this.closed) throw new StoreError(`the trace store in ${this.dir} is closed; open it again to use it`);
  }

  private warn(w: StoreWarning): void {
    this.warnings.push(w);
    const where = w.trace ? `trace ${w.trace}: ` : '';
    this.opts.onWarning?.(`${where}${w.file} at byte ${w.offset}: ${w.message}`, w);
  }

  private trace(name: string, create: boolean): TraceState | undefined {
    let t = this.traces.get(name);
    if (t || !create) return t;
    const dir = join(this.dir, traceDirName(name));
    mkdirSync(dir, { recursive: true });
    t = newTraceState(name, dir);
    this.traces.set(name, t);
    this.saveTraceFile(t);
    return t;
  }

  private saveTraceFile(t: TraceState): void {
    writeAtomically(join(t.dir, 'trace.json'), `${JSON.stringify({ name: t.name, evicted: t.evicted })}\n`);
  }

  /**
   * Hands what is pending to the thread pool, written at its place in the segment (a write to a
   * file can wait on the disk or the filesystem's journal, on the thread taking events in: 10%
   * of its time in profiles). Reads and close catch up first (writeNow).
   */
  private write(t: TraceState): void {
    const w = t.pending;
    if (w === undefined || w.pos === 0) return;
    const seg = t.segments[t.segments.length - 1] as Segment;
    const file = (t.file ??= openForWriting(seg));
    const chunk: Chunk = { file, buf: w.buf, len: w.pos, position: seg.written };
    seg.written += w.pos;
    t.pending = new ProtoWriter(PENDING_BYTES * 2); // the chunk keeps the old buffer until written
    file.writes++;
    t.writing.push(chunk);
    write(file.fd, chunk.buf, 0, chunk.len, chunk.position, (err) => this.written(t, chunk, err));
  }

  private written(t: TraceState, chunk: Chunk, err: NodeJS.ErrnoException | null): void {
    const i = t.writing.indexOf(chunk);
    if (i >= 0) t.writing.splice(i, 1);
    const file = chunk.file;
    if (err)
      this.warn({
        trace: t.name,
        file: file.path,
        offset: chunk.position,
        message: `${chunk.len} bytes not written: ${err.message}`,
      });
    if (--file.writes === 0 && file.closeWhenDone) closeSync(file.fd);
  }

  /**
   * Everything appended is in the files when this returns: writes still with the thread pool are
   * made again here, the same bytes at the same place (when the pool's lands, nothing changes),
   * then what is pending.
   */
  private writeNow(t: TraceState): void {
    for (const c of t.writing) writeSync(c.file.fd, c.buf, 0, c.len, c.position);
    const w = t.pending;
    if (w === undefined || w.pos === 0) return;
    const seg = t.segments[t.segments.length - 1] as Segment;
    const file = (t.file ??= openForWriting(seg));
    writeSync(file.fd, w.buf, 0, w.pos, seg.written);
    seg.written += w.pos;
    w.pos = 0;
  }

  /** The last segment's file is closed as soon as its writes are done. */
  private release(t: TraceState): void {
    const file = t.file;
    t.file = undefined;
    if (!file) return;
    file.closeWhenDone = true;
    if (file.writes === 0) closeSync(file.fd);
  }

  private startSegment(t: TraceState): Segment {
    this.write(t); // what is pending belongs to the segment being closed
    this.release(t);
    const seq = t.nextSeq++;
    const seg = newSegment(seq, join(t.dir, `seg-${String(seq).padStart(8, '0')}.rec`));
    writeFileSync(seg.path, new Uint8Array(0));
    t.segments.push(seg);
    return seg;
  }

  private index(t: TraceState, seg: Segment, offset: number, size: number, f: RecordFields): void {
    seg.offset.push(offset);
    seg.size.push(size);
    seg.journey.push(journeyIndex(seg, f.journey));
    seg.node.push(stringId(t, f.node));
    seg.pod.push(stringId(t, f.pod));
    seg.drop.push(stringId(t, f.drop));
  }

  private enforceCap(t: TraceState): void {
    let changed = false;
    while (t.bytes > this.capBytes && t.segments.length > 1) {
      const old = t.segments.shift() as Segment;
      unlinkSync(old.path);
      t.bytes -= old.bytes;
      t.evicted += old.offset.length;
      changed = true;
    }
    if (changed) this.saveTraceFile(t);
  }

  /**
   * Journey ids matching the filter (undefined: no filter; null: nothing can match). A journey
   * matches when, for each criterion given, one of its events does.
   */
  private matching(
    t: TraceState,
    segments: { seg: Segment; count: number }[],
    filter: StoreFilter,
  ): Set<string> | undefined | null {
    const criteria: [IndexColumn, number][] = [];
    for (const [col, value] of [
      ['node', filter.node],
      ['pod', filter.pod],
      ['drop', filter.dropReason],
    ] as const) {
      if (!value) continue;
      const id = t.stringIds.get(value);
      if (id === undefined) return null; // never stored: no journey can match
      criteria.push([col, id]);
    }
    if (criteria.length === 0) return undefined;
    const all = (1 << criteria.length) - 1;
    const bits = new Map<string, number>();
    for (const { seg, count } of segments) {
      for (let i = 0; i < count; i++) {
        let b = 0;
        for (let c = 0; c < criteria.length; c++) {
          const [col, id] = criteria[c] as [IndexColumn, number];
          if (seg[col].at(i) === id) b |= 1 << c;
        }
        if (b === 0) continue;
        const jid = seg.journeys[seg.journey.at(i)] as string;
        bits.set(jid, (bits.get(jid) ?? 0) | b);
      }
    }
    const out = new Set<string>();
    for (const [jid, b] of bits) if (b === all) out.add(jid);
    return out;
  }

  /** Reads a trace directory back: its name, summary, and each segment's records. */
  private load(dir: string): void {
    const traceFile = join(dir, 'trace.json');
    let info: { name?: unknown; evicted?: unknown };
    try {
      info = JSON.parse(readFileSync(traceFile, 'utf8')) as { name?: unknown; evicted?: unknown };
    } catch (e) {
      this.warn({
        trace: '',
        file: traceFile,
        offset: 0,
        message: `not a trace directory, skipped: ${(e as Error).message}`,
      });
      return;
    }
    if (typeof info.name !== 'string' || info.name === '') {
      this.warn({ trace: '', file: traceFile, offset: 0, message: 'no trace name in it, directory skipped' });
      return;
    }
    const t = newTraceState(info.name, dir);
    t.evicted = typeof info.evicted === 'number' ? info.evicted : 0;
    const metaFile = join(dir, 'meta.json');
    if (existsSync(metaFile)) {
      try {
        t.summary = reviveSummary(JSON.parse(readFileSync(metaFile, 'utf8')) as unknown);
      } catch (e) {
        this.warn({
          trace: t.name,
          file: metaFile,
          offset: 0,
          message: `summary unreadable, ignored: ${(e as Error).message}`,
        });
      }
    }
    const segs = readdirSync(dir)
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const seq of segs) {
      const seg = newSegment(seq, join(dir, `seg-${String(seq).padStart(8, '0')}.rec`));
      this.scanSegment(t, seg);
      t.segments.push(seg);
      t.bytes += seg.bytes;
      t.nextSeq = seq + 1;
    }
    this.traces.set(t.name, t);
    this.enforceCap(t); // the cap may be smaller than when these were written
  }

  /** Indexes a segment file's records; a record cut short (a crash mid-write) is cut off. */
  private scanSegment(t: TraceState, seg: Segment): void {
    const buf = readFileSync(seg.path);
    let pos = 0;
    while (pos < buf.length) {
      const len = readVarint(buf, pos, buf.length);
      // Records are never empty: a zero length is a zeroed tail (some file systems after a crash).
      if (len === undefined || len[0] === 0 || len[1] + len[0] > buf.length) {
        this.warn({
          trace: t.name,
          file: seg.path,
          offset: pos,
          message:
            `record cut short (${buf.length - pos} bytes left; a crash while writing?): ` +
            `truncated to ${pos} bytes, the records before it are kept`,
        });
        const fd = openSync(seg.path, 'r+');
        try {
          ftruncateSync(fd, pos);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        break;
      }
      const [size, start] = len;
      const f = recordFields(buf, start, start + size);
      if (f === undefined)
        this.warn({ trace: t.name, file: seg.path, offset: pos, message: 'record is not a valid event, skipped' });
      else this.index(t, seg, start, size, f);
      pos = start + size;
    }
    seg.bytes = pos;
    seg.written = pos;
    if (statSync(seg.path).size !== pos) throw new StoreError(`${seg.path}: could not be truncated to ${pos} bytes`);
  }
}

/** fsync of a directory: its entries (a new segment file) survive a crash. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function newTraceState(name: string, dir: string): TraceState {
  return {
    name,
    dir,
    segments: [],
    bytes: 0,
    evicted: 0,
    nextSeq: 1,
    file: undefined,
    pending: undefined,
    writing: [],
    summary: undefined,
    strings: [''],
    stringIds: new Map([['', 0]]),
  };
}

function newSegment(seq: number, path: string): Segment {
  return {
    seq,
    path,
    bytes: 0,
    written: 0,
    offset: new U32(),
    size: new U32(),
    journey: new U32(),
    node: new U32(),
    pod: new U32(),
    drop: new U32(),
    journeys: [],
    journeyIds: new Map(),
  };
}

/** The number of `s` in a list of distinct strings (its index), added when new. */
function intern(list: string[], ids: Map<string, number>, s: string): number {
  let id = ids.get(s);
  if (id === undefined) {
    id = list.length;
    list.push(s);
    ids.set(s, id);
  }
  return id;
}

/** A trace's number for a node, pod or drop reason. */
const stringId = (t: TraceState, s: string): number => intern(t.strings, t.stringIds, s);

/** The last segment's file, open for writes at any place in it. */
function openForWriting(seg: Segment): SegmentFile {
  return { fd: openSync(seg.path, 'r+'), path: seg.path, writes: 0, closeWhenDone: false };
}

/** A segment's number for a journey id. */
const journeyIndex = (seg: Segment, id: string): number => intern(seg.journeys, seg.journeyIds, id);

const section: JourneySection = { id: '', idx: 0, cluster_ts: 0n, late: false, nodes: 0 };

/** Where append puts each record's start and size (grown as journeys need). */
let recordStarts = new Uint32Array(256);
let recordSizes = new Uint32Array(256);

/** `namespace/name`, as the pod index and filters have it ('' when no pod). */
function podOf(namespace: string, pod: string): string {
  if (!pod) return '';
  return namespace ? `${namespace}/${pod}` : pod;
}

/**
 * The index fields of one stored event, read with the aggregator's own reader (readSortKeys):
 * journey id, node, pod and drop reason. Undefined when the bytes are not a well-formed event.
 */
function recordFields(b: Buffer, start: number, end: number): RecordFields | undefined {
  let k: SortKeys;
  try {
    k = readSortKeys(b.subarray(start, end));
  } catch (e) {
    if (e instanceof ProtoDecodeError) return undefined;
    throw e;
  }
  return { journey: k.journeyId, node: k.k8sNode, pod: podOf(k.namespace, k.pod), drop: k.dropReason };
}

function summaryText(s: TraceSummary): string {
  return `${JSON.stringify(s, bigintAsString, 1)}\n`;
}

/** Writes a file with the thread pool's help (no fsync); `done` gets the first error. */
function writeInBackground(file: string, text: string, done: (err: Error | null) => void): void {
  open(file, 'w', (err, fd) => {
    if (err) return done(err);
    write(fd, text, (werr) => close(fd, (cerr) => done(werr ?? cerr)));
  });
}

/** Writes a file so that readers see the old or the new content, never a part. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function bigintAsString(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function taggedBigint(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? { $bigint: v.toString() } : v;
}

function untagBigint(_key: string, v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$bigint' && typeof o['$bigint'] === 'string') return BigInt(o['$bigint']);
  }
  return v;
}

/** meta.json back into a TraceSummary: 64-bit fields (written as strings) become bigints. */
function reviveSummary(v: unknown): TraceSummary {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new StoreError('meta.json must hold an object');
  revive(v as Record<string, unknown>, 'TraceSummary');
  return v as TraceSummary;
}

function revive(obj: Record<string, unknown>, message: string): void {
  const fields: FieldSpec[] = QUERY_FIELDS[message] ?? [];
  for (const f of fields) {
    const v = obj[f.json];
    if (v === undefined || v === null) continue;
    if (f.kind === 'u64' || f.kind === 'i64') {
      if (typeof v !== 'string' && typeof v !== 'number') throw new StoreError(`${message}.${f.json}: not an integer`);
      obj[f.json] = BigInt(v);
    } else if (f.kind === 'message' && f.message) {
      for (const item of f.repeated && Array.isArray(v) ? v : [v])
        if (typeof item === 'object' && item !== null) revive(item as Record<string, unknown>, f.message);
    }
  }
}
