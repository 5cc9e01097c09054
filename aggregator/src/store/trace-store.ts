// Where released journeys go: an embedded, size-capped store with one directory per trace, so
// that `retrace events` can read a trace back (filtered) after the fact and after a restart.
//
// <dir>/<trace, sanitised>/
//   trace.json          the trace's name and evicted count       (state-files.ts)
//   meta.json           the last saved TraceSummary              (state-files.ts)
//   seg-00000001.rec    blocks, one per journey, each with a checksum (segment-format.ts); a
//   seg-00000002.rec    record per event: its sender, and the event's protobuf bytes as the
//   ...                 agent sent them with its Journey section appended (journey-encoder.ts)
// <dir>/.state/<key>.json   small JSON documents for the aggregator   (state-files.ts)
//
// This class is the store's face: it holds the traces (stored-trace.ts) and what they share,
// the caps (space.ts), the state files, the journey encoder and the warnings. Each segment's
// index (segment-index.ts) is kept in memory and rebuilt on open (segment-scan.ts); writes are
// scheduled per trace (segment-writer.ts). Damage is never repaired by losing what is valid; a
// trace whose trace.json is lost is found again by its directory name (or, when that is hashed,
// kept untouched until its trace appends), its events going on in a new segment.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Event, TraceSummary } from '@retrace/events';
import type { Journey } from '../journeys/sorted-event.js';
import { fsyncPathsInBackground, setAside } from './durable-fs.js';
import { StoreError, StoreWriteError, type StoreWarning } from './errors.js';
import { JourneyEncoder } from './journey-encoder.js';
import { storeLimits, type TraceStoreOptions } from './options.js';
import { SEGMENT_HEADER_BYTES } from './segment-format.js';
import type { StoreFilter } from './segment-index.js';
import { rollBackSegments, segmentNumbers, type SegmentExtent } from './segment.js';
import { StoreSpace } from './space.js';
import { StateFiles, isStateDir, readStateFile } from './state-files.js';
import { StoredTrace, type NodeUsage, type TraceContext } from './stored-trace.js';
import { traceDirName, traceNameOfDir } from './trace-dir-name.js';

export class TraceStore {
  private readonly traces = new Map<string, StoredTrace>();
  private readonly space: StoreSpace;
  private readonly states: StateFiles;
  private readonly encoder: JourneyEncoder;
  private readonly context: TraceContext;
  private closed = false;
  /** Trace directories whose name could not be told (trace.json lost, name hashed), by directory. */
  private readonly orphans = new Set<string>();
  /** What open() found and repaired, and problems since. */
  readonly warnings: StoreWarning[] = [];
  /** Per trace, the files a background sync is syncing (sync() syncs them too). */
  private syncingInBackground: [StoredTrace, string[]][] = [];
  /** The last write the disk refused, until a sync() or a write gets everything to disk again. */
  lastWriteError: StoreWriteError | undefined;

  private constructor(
    readonly dir: string,
    private readonly opts: TraceStoreOptions,
  ) {
    this.space = new StoreSpace(storeLimits(opts));
    this.states = new StateFiles(dir, (w) => this.warn(w), opts.onWarning);
    this.encoder = new JourneyEncoder(this.space);
    this.context = {
      space: this.space,
      states: this.states,
      warn: (w) => this.warn(w),
      refusedWrite: (trace, file, position, len, err) => this.refusedWrite(trace, file, position, len, err),
    };
  }

  /** Opens (creating it if needed) a store directory and everything stored in it. */
  static open(dir: string, opts: TraceStoreOptions = {}): TraceStore {
    const store = new TraceStore(dir, opts);
    mkdirSync(dir, { recursive: true });
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || isStateDir(entry.name)) continue;
      store.load(join(dir, entry.name));
    }
    return store;
  }

  /**
   * Returns a closed store directory to `extents` (from extents(), saved by the caller): what
   * was appended since is removed (segments cut back to their size then, newer segments
   * deleted), so that events acknowledged after the checkpoint and resent are not stored twice.
   * Traces not in `extents` are left as they are; segments evicted since stay gone.
   */
  static rollBack(dir: string, extents: Record<string, SegmentExtent[]>): string[] {
    const done: string[] = [];
    for (const [trace, segs] of Object.entries(extents)) {
      const tdir = join(dir, traceDirName(trace));
      if (existsSync(tdir)) done.push(...rollBackSegments(tdir, segs));
    }
    return done;
  }

  /**
   * A state document (saveState) of a store directory, open or not: what a restart reads
   * before it opens the store. Undefined when there is none; StateFileError when unreadable.
   */
  static readState(dir: string, key: string): unknown {
    return readStateFile(dir, key);
  }

  listTraces(): string[] {
    return [...this.traces.keys()].sort();
  }

  /**
   * Appends a released journey (every event with its Journey section). Events of a node past
   * its quota are left out and reported (onRefused); the rest of the journey is stored.
   */
  append(trace: string, j: Journey): void {
    this.check();
    if (j.events.length === 0) return;
    const t = this.trace(trace, true) as StoredTrace;
    const enc = this.encoder;
    let seg = t.appendTarget();
    let w = t.writer.buffer;
    let first = w.pos;
    enc.encode(t, seg, j, w);
    if (seg.bytes > SEGMENT_HEADER_BYTES && seg.bytes + (w.pos - first) > this.space.limits.segmentBytes) {
      // A journey goes into one segment, whole. What was pending before it goes to this one.
      enc.undo(seg, w, first);
      seg = t.startSegment();
      w = t.writer.buffer;
      first = w.pos;
      enc.encode(t, seg, j, w);
    }
    enc.commit(t, seg, j, seg.bytes - first);
    t.grow(seg, w.pos - first);
    for (const [sender, n] of enc.refused) {
      t.refused.set(sender, (t.refused.get(sender) ?? 0) + n);
      this.opts.onRefused?.(t.name, t.strings.at(sender), n);
    }
    if (t.writer.full) t.writer.write(seg);
  }

  /** Writes every trace's pending appends to its segment file, and again what the disk refused. */
  flush(): void {
    this.check();
    for (const t of this.traces.values()) t.flush();
  }

  /**
   * Everything appended is on disk when this returns: pending appends (and writes the disk
   * refused before) written, then every segment written since the last sync (the one open, and
   * any closed since) and each trace's directory fsynced (what the aggregator acknowledges
   * after). Throws StoreWriteError naming the file when the disk refuses (full, read-only,
   * failing); what was not written is kept and tried again by the next call.
   */
  sync(): void {
    this.check();
    // What a background sync still has with the thread pool is synced here too.
    for (const [t, files] of this.syncingInBackground) t.writer.unsyncedAgain(files);
    try {
      for (const t of this.traces.values()) t.sync();
    } catch (e) {
      if (e instanceof StoreWriteError) this.lastWriteError = e;
      throw e;
    }
    this.lastWriteError = undefined;
  }

  /**
   * sync() with the waits on the disk off the event loop: what was appended is written now (to
   * the OS; a refusal throws StoreWriteError as sync() does). The result's extents are those
   * written (what extents() says right after sync()); its fsync() has the thread pool fsync the
   * segment files written since the last sync and each trace's directory, then calls `done`:
   * everything appended before this call is then on disk (what is appended meanwhile is not
   * vouched for). With the disk refusing an fsync, `done` gets its StoreWriteError, and the
   * files not known to be synced are synced again by the next sync.
   */
  syncInBackground(): {
    extents: Record<string, SegmentExtent[]>;
    fsync(done: (err: StoreWriteError | undefined) => void): void;
  } {
    this.check();
    const taken: [StoredTrace, string[]][] = [];
    const paths: string[] = [];
    try {
      for (const t of this.traces.values()) {
        t.writeNow();
        const files = t.writer.takeUnsynced();
        taken.push([t, files]);
        paths.push(...files, t.dir);
      }
    } catch (e) {
      for (const [t, files] of taken) t.writer.unsyncedAgain(files);
      if (e instanceof StoreWriteError) this.lastWriteError = e;
      throw e;
    }
    this.lastWriteError = undefined; // what the disk refused before is written now
    this.syncingInBackground = taken;
    const fsync = (done: (err: StoreWriteError | undefined) => void): void => {
      const end = (err: StoreWriteError | undefined): void => {
        if (this.syncingInBackground === taken) this.syncingInBackground = [];
        done(err);
      };
      if (paths.length === 0) return void setImmediate(end, undefined); // (never before this returns)
      fsyncPathsInBackground(paths, (err, path) => {
        if (!err) return end(undefined);
        for (const [t, files] of taken) t.writer.unsyncedAgain(files);
        const e = new StoreWriteError(path ?? this.dir, err);
        this.lastWriteError = e;
        end(e);
      });
    };
    return { extents: this.extents(), fsync };
  }

  /**
   * Per trace, its segment files and their sizes now (after sync(), what is on disk): a
   * checkpoint that rollBack() can return a store directory to.
   */
  extents(): Record<string, SegmentExtent[]> {
    const out: Record<string, SegmentExtent[]> = {};
    for (const t of this.traces.values()) out[t.name] = t.extents();
    return out;
  }

  /**
   * The trace's stored events in the order they were stored; none for an unknown trace. Each
   * record's checksum is checked: one that changed since it was written is skipped and reported.
   */
  *events(trace: string, filter: StoreFilter = {}): Generator<{ raw: Uint8Array; event: Event }> {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    try {
      t.writeNow();
    } catch (e) {
      // the disk refuses: what it has not taken is read from memory
      if (!(e instanceof StoreWriteError)) throw e;
      this.lastWriteError = e;
    }
    yield* t.read(filter);
  }

  storedBytes(trace: string): number {
    return this.traces.get(trace)?.bytes ?? 0;
  }

  /** Bytes of every trace's segments (what totalCapBytes bounds). */
  totalStoredBytes(): number {
    return this.space.totalBytes;
  }

  /** Events dropped by the size cap so far. */
  evicted(trace: string): number {
    return this.traces.get(trace)?.evicted ?? 0;
  }

  /** Events refused by quotas since the store was opened (each also reported to onRefused). */
  refused(trace: string): number {
    return this.traces.get(trace)?.refusedEvents() ?? 0;
  }

  /** Each node's bytes in the trace, its share and what it had refused, by node name. */
  nodeUsage(trace: string): NodeUsage[] {
    return this.traces.get(trace)?.nodeUsage() ?? [];
  }

  /** Saves the trace's summary (meta.json, replaced atomically). */
  saveSummary(trace: string, s: TraceSummary): void {
    this.check();
    const t = this.trace(trace, true) as StoredTrace;
    this.states.saveSummary(t.dir, s);
    t.summary = s;
  }

  /**
   * Saves summaries and states for the periodic saves of a running aggregator. The files are
   * written by the thread pool, without fsync: like the segments, they are then as safe as the
   * OS's page cache (a crash of the aggregator loses nothing written; closing saves with fsync).
   * An fsync here cost far more than the save: on ext4 it waits for every dirty file of the
   * journal, segments included, and the segment writes on the thread taking events in stalled
   * behind it. Newer content is never replaced by older (state-files.ts). Returns false, doing
   * nothing, while the previous round is still being written.
   */
  saveInBackground(summaries: [string, TraceSummary][], states: [string, unknown][]): boolean {
    this.check();
    if (this.states.saving) return false;
    const byDir = summaries.map(([trace, summary]): [string, TraceSummary] => {
      const t = this.trace(trace, true) as StoredTrace;
      t.summary = summary;
      return [t.dir, summary];
    });
    return this.states.saveInBackground(byDir, states);
  }

  summary(trace: string): TraceSummary | undefined {
    return this.traces.get(trace)?.summary;
  }

  /**
   * Saves a small JSON document for the aggregator (bigints kept), replaced atomically and
   * durably: the aggregator's checkpoint is one.
   */
  saveState(key: string, value: unknown): void {
    this.check();
    this.states.saveState(key, value);
  }

  /** A state document; an unreadable one is set aside as `<file>.damaged-<time>` and reported. */
  state(key: string): unknown {
    return this.states.state(key);
  }

  /** Removes a trace and everything stored for it. */
  deleteTrace(trace: string): void {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    t.remove();
    this.traces.delete(trace);
  }

  /**
   * Writes what is left and closes the files. Throws StoreWriteError when the disk refuses it:
   * those events are then lost, and the error says which file.
   */
  close(): void {
    if (this.closed) return;
    let failed: StoreWriteError | undefined;
    for (const t of this.traces.values()) {
      const e = t.close();
      failed ??= e;
    }
    this.closed = true;
    this.states.close();
    if (failed) throw failed;
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

  /** A write the disk refused: kept, to be made again at its place (flush, sync, close). */
  private refusedWrite(trace: string, file: string, position: number, len: number, err: NodeJS.ErrnoException): void {
    const first = this.lastWriteError === undefined;
    this.lastWriteError = new StoreWriteError(file, err);
    if (first)
      this.warn({
        trace,
        file,
        offset: position,
        bytes: len,
        message: `${len} bytes not written (${err.message}): kept, and written again by the next flush or sync`,
      });
  }

  private trace(name: string, create: boolean): StoredTrace | undefined {
    let t = this.traces.get(name);
    if (t || !create) return t;
    const dir = join(this.dir, traceDirName(name));
    // A directory of this name not loaded (its trace.json was lost and its name could not be
    // told from the directory's): it is this trace's, and its segments are kept.
    if (existsSync(dir) && this.load(dir, name)) return this.traces.get(name) as StoredTrace;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new StoreWriteError(dir, e as NodeJS.ErrnoException);
    }
    t = new StoredTrace(name, dir, this.context);
    this.traces.set(name, t);
    t.saveTraceFile();
    return t;
  }

  /**
   * Reads a trace directory back: its name, summary, and each segment's records. `name` is
   * the trace's when a live trace claims the directory. Returns whether the trace was loaded.
   */
  private load(dir: string, name?: string): boolean {
    const seqs = segmentNumbers(dir);
    const info = this.states.readTraceFile(dir);
    const traceFile = this.states.traceFile(dir);
    const problem = info.problem;
    if (info.missing && seqs.length === 0 && !this.states.hasSummary(dir)) {
      if (name === undefined)
        this.warn({ trace: '', file: traceFile, offset: 0, message: 'not a trace directory, skipped' });
      return false;
    }
    const traceName = name ?? info.name ?? traceNameOfDir(basename(dir));
    if (problem) {
      let aside = '';
      if (existsSync(traceFile) && !this.orphans.has(dir)) aside = `, set aside as ${basename(setAside(traceFile))}`;
      if (traceName === undefined) {
        this.orphans.add(dir);
        this.warn({
          trace: '',
          file: traceFile,
          offset: 0,
          message:
            `unreadable (${problem})${aside}; the trace's name cannot be told from the directory's (hashed), ` +
            'so its segments are kept untouched until the trace they belong to appends again',
        });
        return false;
      }
      this.warn({
        trace: traceName,
        file: traceFile,
        offset: 0,
        message:
          `unreadable (${problem})${aside}; the trace is ${JSON.stringify(traceName)} ` +
          `(${name !== undefined ? 'appended to' : "from the directory's name"}), its evicted count starts again from 0`,
      });
    }
    const loaded = this.traces.get(traceName as string);
    if (loaded) {
      this.warn({
        trace: traceName as string,
        file: dir,
        offset: 0,
        message: `a second directory for this trace (${loaded.dir} is loaded): kept untouched, not read`,
      });
      return false;
    }
    this.orphans.delete(dir);
    const t = new StoredTrace(traceName as string, dir, this.context);
    t.evicted = info.evicted;
    t.summary = this.states.readSummary(dir, t.name);
    t.load(seqs);
    this.traces.set(t.name, t);
    if (problem) {
      t.saveTraceFile();
      // what was there is only read: new events go to a new segment
      const lastSeg = t.last();
      if (lastSeg) lastSeg.appendable = false;
    }
    return true;
  }
}
