// Where released journeys go: an embedded, size-capped store with one directory per trace, so
// that `retrace events` can read a trace back (filtered) after the fact and after a restart.
//
// <dir>/<trace, sanitised>/
//   trace.json          the trace's name (directory names are sanitised) and evicted count
//   meta.json           the last saved TraceSummary (written to a temporary file, then renamed)
//   seg-00000001.rec    blocks (segment-format.ts), one per journey, each with a checksum; a
//   seg-00000002.rec    record per event: its sender, and the event's protobuf bytes as the
//   ...                 agent sent them with its Journey section (field 17) appended; protobuf
//                       merges a repeated message field, so they decode as the event + `journey`
// <dir>/.state/<key>.json   small JSON documents for the aggregator (saveState / state)
//
// Each segment's index (record offsets, journey id, sender, node, pod, drop reason) is kept in
// memory in typed arrays, and rebuilt on open by reading those few fields of each record without
// decoding the rest. Filters apply per journey: a journey is returned whole when any of its
// events matches each filter given.
//
// Space (node-quota.ts): capBytes is per trace, totalCapBytes across traces. Each record is
// charged to the node that sent it; a node past its share of capBytes has its newest events
// refused (onRefused) rather than anyone else's evicted, and the oldest segment goes only when
// every node with events in it is past its share (a node's own rolling window).
//
// Damage is never repaired by losing what is valid: on open a block that fails its checksum, a
// zeroed block or stray bytes are skipped and reported (file, offset, bytes, records), and every
// block after them kept; only the end of the last segment, when no block follows, is cut off (a
// crash while writing). Reads check each block's checksum again and skip one that changed.
// Unreadable trace.json, meta.json or state files are set aside as <file>.damaged-<time>, never
// overwritten; a trace whose trace.json is lost is found again by its directory name (or, when
// that is hashed, kept untouched until its trace appends), its events going on in a new segment:
// segment files are only ever created, never written over.
//
// Appends are gathered in memory and written a chunk at a time (PENDING_BYTES, or flush(), which
// the aggregator calls a few times a second): one write per journey cost more than sorting it.
// The thread pool writes each chunk at its place in the segment file; reads and close first
// write synchronously whatever is not known to be written. A chunk the disk refuses (ENOSPC) is
// kept and written again at its place by the next flush() or sync() (sync() throws
// StoreWriteError while the disk refuses; lastWriteError says so meanwhile); reads see it from
// memory. Nothing is fsynced but by sync(): a crash loses what was pending or what the OS had not
// written.
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
import { NodeQuota } from './node-quota.js';
import {
  BLOCK_HEADER_BYTES,
  BLOCK_RECORDS,
  BLOCK_SENDER,
  MAX_BLOCK_BYTES,
  MAX_SENDERS,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  describeDamage,
  blockIntact,
  nextBlock,
  readBlock,
  readVarint,
  sealBlock,
  segmentVersion,
  type SegmentVersion,
} from './segment-format.js';
import { readSortKeys, type SortKeys } from './sort-keys.js';

/** A trace's bytes of segments when capBytes is not given. */
export const DEFAULT_CAP_BYTES = 256 * 1024 * 1024;

export interface TraceStoreOptions {
  /**
   * Bytes of segments per trace (default 256 MiB), shared by its nodes: each node gets
   * capBytes / nodes seen (at least nodeFloorBytes) and its events past that are refused.
   */
  capBytes?: number;
  /** The least share of a trace a node gets however many nodes send (default capBytes / 8, at most 1 MiB). */
  nodeFloorBytes?: number;
  /** Bytes of segments of all traces together (default 4 x capBytes); past it, appends are refused. */
  totalCapBytes?: number;
  /** A segment is closed and a new one started past this size (default 8 MiB). */
  segmentBytes?: number;
  /** Problems found (damaged records or files, refused writes), with what was done about them. */
  onWarning?: (message: string, warning: StoreWarning) => void;
  /** Events of a node refused by its quota (or the store's cap), per append: lost, cause 'quota'. */
  onRefused?: (trace: string, node: string, events: number) => void;
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
  /** Bytes skipped or cut off, when the warning is about damaged records. */
  bytes?: number;
  /** Records lost in them, when their sequence numbers say. */
  records?: number;
}

/** A node's use of a trace's space. */
export interface NodeUsage {
  node: string;
  bytes: number;
  share: number;
  /** Events refused since the store was opened. */
  refused: number;
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
  version: SegmentVersion;
  /** New records may go at its end (the last segment, version 2, header intact). */
  appendable: boolean;
  bytes: number;
  /** Bytes handed to writes so far: where the next write goes. */
  written: number;
  /** Records in it so far (the next block's first record). */
  nextRecord: number;
  /** Senders declared in it: their number in the segment, and back. */
  senders: string[];
  senderIds: Map<string, number>;
  /** Bytes of records per sender (by the trace's string id): what evicting it frees for whom. */
  nodeBytes: Map<number, number>;
  /** Per record: where its body starts, how many bytes, its block, and its index fields. */
  offset: U32;
  block: U32;
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
  quota: NodeQuota;
  /** Events refused per node (string id), since the store was opened. */
  refused: Map<number, number>;
  /** The last segment's file, open for writing (opened on the first write). */
  file: SegmentFile | undefined;
  /** Records appended to the last segment, not handed to a write yet (made on the first append). */
  pending: ProtoWriter | undefined;
  /** Writes not known to be on disk, oldest first: with the thread pool, or refused by the disk. */
  writing: Chunk[];
  /** Segment files written to since the last sync() (a segment closed since still needs its fsync). */
  unsynced: Set<string>;
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

/** Bytes written at a place in a segment file, by the thread pool or synchronously. */
interface Chunk {
  file: SegmentFile;
  buf: Buffer;
  len: number;
  position: number;
  /** With the thread pool now. */
  inFlight: boolean;
  /** Known to be in the file (or no longer wanted: its segment was evicted). */
  done: boolean;
  /** Off the trace's list and uncounted from its file's writes. */
  settled: boolean;
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

/** The trace name a directory name was made from, when it can be told (not hashed). */
export function traceNameOfDir(dirName: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(dirName)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < dirName.length; i++) {
    if (dirName[i] === '%') {
      bytes.push(parseInt(dirName.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(dirName.charCodeAt(i));
  }
  const name = Buffer.from(bytes).toString('utf8');
  return name !== '' && traceDirName(name) === dirName ? name : undefined;
}

/** `<file>.damaged-<time>`: where an unreadable file is set aside. */
function setAside(file: string): string {
  const to = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, to);
  return to;
}

export class TraceStore {
  private readonly traces = new Map<string, TraceState>();
  private readonly capBytes: number;
  private readonly totalCapBytes: number;
  private readonly floorBytes: number;
  private readonly segmentBytes: number;
  /** Bytes of every trace's segments. */
  private totalBytes = 0;
  private closed = false;
  /** A saveInBackground round is being written. */
  private backgroundRound = false;
  /** Files whose last background save failed, and why (each failure said once). */
  private readonly unsaved = new Map<string, string>();
  /** Per file, synchronous saves so far (a background save started before one is not renamed). */
  private readonly generations = new Map<string, number>();
  /** Trace directories whose name could not be told (trace.json lost, name hashed), by directory. */
  private readonly orphans = new Set<string>();
  /** Records found changed on a read, reported once each. */
  private readonly badReads = new Set<string>();
  /** What open() found and repaired, and problems since. */
  readonly warnings: StoreWarning[] = [];
  /** The last write the disk refused, until a sync() or a write gets everything to disk again. */
  lastWriteError: StoreWriteError | undefined;

  private constructor(
    readonly dir: string,
    private readonly opts: TraceStoreOptions,
  ) {
    this.capBytes = opts.capBytes ?? DEFAULT_CAP_BYTES;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    this.totalCapBytes = opts.totalCapBytes ?? 4 * this.capBytes;
    this.floorBytes = opts.nodeFloorBytes ?? Math.min(1 << 20, Math.floor(this.capBytes / 8));
    for (const [name, v] of [
      ['capBytes', this.capBytes],
      ['segmentBytes', this.segmentBytes],
      ['totalCapBytes', this.totalCapBytes],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new StoreError(`${name} must be a whole number of bytes >= 1, got ${v}`);
    if (!Number.isInteger(this.floorBytes) || this.floorBytes < 0 || this.floorBytes > this.capBytes)
      throw new StoreError(
        `nodeFloorBytes must be a whole number of bytes from 0 to capBytes (${this.capBytes}), got ${this.floorBytes}`,
      );
    if (this.capBytes < this.segmentBytes)
      throw new StoreError(
        `capBytes (${this.capBytes}) must be at least segmentBytes (${this.segmentBytes}): ` +
          'eviction works a segment at a time',
      );
    if (this.totalCapBytes < this.capBytes)
      throw new StoreError(
        `totalCapBytes (${this.totalCapBytes}) must be at least capBytes (${this.capBytes}): ` +
          'it is the cap of all traces together',
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

  /**
   * Appends a released journey (every event with its Journey section). Events of a node past
   * its quota are left out and reported (onRefused); the rest of the journey is stored.
   */
  append(trace: string, j: Journey): void {
    this.check();
    if (j.events.length === 0) return;
    const t = this.trace(trace, true) as TraceState;
    let seg = t.segments[t.segments.length - 1];
    if (!seg?.appendable) seg = this.startSegment(t);
    let w = (t.pending ??= new ProtoWriter(PENDING_BYTES * 2));
    let first = w.pos;
    let kept = this.encode(t, seg, j, w);
    if (seg.bytes > SEGMENT_HEADER_BYTES && seg.bytes + (w.pos - first) > this.segmentBytes) {
      // A journey goes into one segment, whole: encoded again for the next (its senders and
      // sequence numbers are the segment's). What was pending before it goes to this one.
      w.pos = first;
      seg.nextRecord = encoded.seqBefore;
      for (const s of encoded.declared) seg.senderIds.delete(seg.senders.pop() ?? s);
      seg = this.startSegment(t);
      w = t.pending as ProtoWriter;
      first = w.pos;
      kept = this.encode(t, seg, j, w);
    }
    const total = w.pos - first;
    // The index: the journey's id once; a journey's events mostly share node, pod and reason
    // (the same string objects, from the sort keys' string cache), so each is looked up when
    // it changes.
    const journey = kept > 0 ? journeyIndex(seg, j.id) : 0;
    let node = '';
    let nodeId = -1;
    let ns = '';
    let pod = '';
    let podId = -1;
    let drop = '';
    let dropId = -1;
    for (let k = 0; k < kept; k++) {
      const e = j.events[recordEvent[k] as number] as SortedEvent;
      const eNode = e.k8sNode || e.node;
      if (eNode !== node || nodeId < 0) nodeId = stringId(t, (node = eNode));
      if (e.namespace !== ns || e.pod !== pod || podId < 0)
        podId = stringId(t, podOf((ns = e.namespace), (pod = e.pod)));
      if (e.dropReason !== drop || dropId < 0) dropId = stringId(t, (drop = e.dropReason));
      seg.offset.push(seg.bytes + (recordStarts[k] as number) - first);
      seg.size.push(recordSizes[k] as number);
      seg.block.push(seg.bytes + (recordBlock[k] as number) - first);
      seg.journey.push(journey);
      seg.node.push(nodeId);
      seg.pod.push(podId);
      seg.drop.push(dropId);
    }
    for (const [sender, b] of encoded.charged) {
      t.quota.add(sender, b);
      seg.nodeBytes.set(sender, (seg.nodeBytes.get(sender) ?? 0) + b);
    }
    seg.bytes += total;
    t.bytes += total;
    this.totalBytes += total;
    for (const [sender, n] of encoded.refused) {
      t.refused.set(sender, (t.refused.get(sender) ?? 0) + n);
      this.opts.onRefused?.(t.name, t.strings[sender] as string, n);
    }
    if (w.pos >= PENDING_BYTES) this.write(t);
  }

  /**
   * Encodes a journey into `w` for `seg`: a block naming each sender new to the segment, then
   * one block of its events, each checked against its sender's quota and the caps (which may
   * evict the trace's oldest segments). `encoded` and the record arrays say what went in.
   * Returns how many events did.
   */
  private encode(t: TraceState, seg: Segment, j: Journey, w: ProtoWriter): number {
    const n = j.events.length;
    if (recordStarts.length < n) {
      recordStarts = new Uint32Array(n * 2);
      recordSizes = new Uint32Array(n * 2);
      recordEvent = new Uint32Array(n * 2);
      recordBlock = new Uint32Array(n * 2);
    }
    encoded.charged.clear();
    encoded.refused.clear();
    encoded.declared.length = 0;
    encoded.seqBefore = seg.nextRecord;
    let added = 0;
    // Senders new to the segment are named first (charged to them: a few bytes a segment).
    let senderName = '';
    for (let i = 0; i < n; i++) {
      const node = (j.events[i] as SortedEvent).node;
      if (node === senderName) continue;
      senderName = node;
      if (seg.senderIds.has(node)) continue;
      if (seg.senders.length >= MAX_SENDERS)
        throw new StoreError(`${seg.path}: more than ${MAX_SENDERS} nodes in one segment; lower segmentBytes`);
      const sid = seg.senders.length;
      const at = w.pos;
      const name = Buffer.from(node, 'utf8');
      w.ensure(BLOCK_HEADER_BYTES + name.length);
      w.pos += BLOCK_HEADER_BYTES;
      w.raw(name);
      sealBlock(w.buf, at, BLOCK_SENDER, w.pos, sid, seg.nextRecord);
      seg.senders.push(node);
      seg.senderIds.set(node, sid);
      encoded.declared.push(node);
      const id = stringId(t, node);
      t.quota.see(id);
      encoded.charged.set(id, (encoded.charged.get(id) ?? 0) + w.pos - at);
      added += w.pos - at;
    }
    // Each record's Journey section (as journeySection has it), in one object reused.
    section.id = j.id;
    section.nodes = j.nodes.length;
    let block = this.openBlock(w);
    added += BLOCK_HEADER_BYTES;
    let inBlock = 0;
    let kept = 0;
    senderName = '';
    let sender = -1;
    let sid = 0;
    /** Bytes of the sender in this journey, and what it may still add without a closer look. */
    let mine = 0;
    let room = 0;
    for (let i = 0; i < n; i++) {
      const e = j.events[i] as SortedEvent;
      if (e.node !== senderName || sender < 0) {
        if (sender >= 0) encoded.charged.set(sender, mine);
        sender = stringId(t, (senderName = e.node));
        t.quota.see(sender);
        sid = seg.senderIds.get(senderName) as number;
        mine = encoded.charged.get(sender) ?? 0;
        room = this.room(t, sender, mine, added);
      }
      // The record: its sender, its length, the agent's bytes as they are, then the sections the
      // store adds (protobuf merges them in), written straight into what is pending.
      const at = w.pos;
      w.ensure(2);
      w.buf[w.pos++] = sid & 0xff;
      w.buf[w.pos++] = sid >>> 8;
      const start = w.beginLength();
      w.raw(e.raw);
      // Records say where they come from even when the agent left k8s out (read back on open).
      if (!e.hasK8s) w.messageField(FIELD_K8S, 'K8s', { node: e.node });
      section.idx = e.idx;
      section.cluster_ts = e.clusterTs;
      section.late = e.late;
      w.messageField(FIELD_JOURNEY, 'Journey', section);
      const body = w.pos - start;
      w.endLength(start);
      const size = w.pos - at;
      if (size > room) {
        if (!this.admit(t, sender, size, mine, added)) {
          w.pos = at;
          encoded.refused.set(sender, (encoded.refused.get(sender) ?? 0) + 1);
          continue;
        }
        room = this.room(t, sender, mine, added) + size;
      }
      room -= size;
      mine += size;
      added += size;
      recordStarts[kept] = w.pos - body;
      recordSizes[kept] = body;
      recordBlock[kept] = block;
      recordEvent[kept++] = i;
      inBlock++;
      if (w.pos - block > MAX_BLOCK_BYTES / 2 && i < n - 1) {
        // a journey this big takes several blocks
        sealBlock(w.buf, block, BLOCK_RECORDS, w.pos, 0, seg.nextRecord);
        seg.nextRecord += inBlock;
        inBlock = 0;
        block = this.openBlock(w);
        added += BLOCK_HEADER_BYTES;
      }
    }
    if (sender >= 0) encoded.charged.set(sender, mine);
    if (inBlock === 0) w.pos = block;
    else {
      if (w.pos - block - BLOCK_HEADER_BYTES > MAX_BLOCK_BYTES)
        throw new StoreError(`an event of more than ${MAX_BLOCK_BYTES / 2} bytes: the store takes events up to 8 MiB`);
      sealBlock(w.buf, block, BLOCK_RECORDS, w.pos, 0, seg.nextRecord);
      seg.nextRecord += inBlock;
    }
    return kept;
  }

  /** A block's header reserved at the end of `w`; returns where it is. */
  private openBlock(w: ProtoWriter): number {
    const at = w.pos;
    w.ensure(BLOCK_HEADER_BYTES);
    w.pos += BLOCK_HEADER_BYTES;
    return at;
  }

  /** Bytes `sender` may add without a closer look: within its share and both caps. */
  private room(t: TraceState, sender: number, mine: number, added: number): number {
    return Math.min(
      t.quota.share() - t.quota.stored(sender) - mine,
      this.capBytes - t.bytes - added,
      this.totalCapBytes - this.totalBytes - added,
    );
  }

  /**
   * Whether `size` more bytes of `sender` may be stored (`mine` of it and `added` in all already
   * are, in this journey): within its share, the trace's cap and the store's. Past them, the
   * trace's oldest segment is evicted if every node with events in it is past its share;
   * otherwise the event is refused.
   */
  private admit(t: TraceState, sender: number, size: number, mine: number, added: number): boolean {
    const q = t.quota;
    if (!q.fits(sender, size, mine)) {
      q.refused(sender);
      while (!q.fits(sender, size, mine)) if (!this.evictOldest(t)) return false;
    }
    while (t.bytes + added + size > this.capBytes || this.totalBytes + added + size > this.totalCapBytes) {
      // A node the cap stops is at its limit too (its share less what no node is charged for:
      // segment and block headers): its oldest may go for it, as when past its share.
      q.refused(sender);
      if (!this.evictOldest(t)) return false;
    }
    return true;
  }

  /** Evicts the trace's oldest segment if it is not the last and its nodes are all past their share. */
  private evictOldest(t: TraceState): boolean {
    const old = t.segments[0];
    if (!old || t.segments.length < 2 || !t.quota.evictable(old.nodeBytes)) return false;
    this.evict(t);
    return true;
  }

  private evict(t: TraceState): void {
    const old = t.segments.shift() as Segment;
    for (const c of t.writing) if (c.file.path === old.path) c.done = true;
    for (const c of [...t.writing]) this.settle(t, c);
    rmSync(old.path, { force: true });
    t.bytes -= old.bytes;
    this.totalBytes -= old.bytes;
    t.evicted += old.offset.length;
    for (const [node, b] of old.nodeBytes) t.quota.remove(node, b);
    this.saveTraceFile(t);
  }

  /** Writes every trace's pending appends to its segment file, and again what the disk refused. */
  flush(): void {
    this.check();
    for (const t of this.traces.values()) {
      for (const c of t.writing) if (!c.done && !c.inFlight) this.submit(t, c);
      this.write(t);
    }
  }

  /**
   * Everything appended is on disk when this returns: pending appends (and writes the disk
   * refused before) written, then every segment written since the last sync (the one open, and
   * any closed since) and each trace's directory fsynced (what the aggregator acknowledges after). Throws StoreWriteError naming the file when the disk refuses
   * (full, read-only, failing); what was not written is kept and tried again by the next call.
   */
  sync(): void {
    this.check();
    for (const t of this.traces.values()) {
      let file = t.dir;
      try {
        this.writeNow(t);
        for (const path of t.unsynced) {
          file = path;
          fsyncFile(path, t.file);
        }
        t.unsynced.clear();
        file = t.dir;
        fsyncDir(t.dir);
      } catch (e) {
        throw (this.lastWriteError =
          e instanceof StoreWriteError ? e : new StoreWriteError(file, e as NodeJS.ErrnoException));
      }
    }
    this.lastWriteError = undefined;
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

  /**
   * The trace's stored events in the order they were stored; none for an unknown trace. Each
   * record's checksum is checked: one that changed since it was written is skipped and reported.
   */
  *events(trace: string, filter: StoreFilter = {}): Generator<{ raw: Uint8Array; event: Event }> {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    try {
      this.writeNow(t);
    } catch (e) {
      // the disk refuses: what it has not taken is read from memory below
      if (!(e instanceof StoreWriteError)) throw e;
      this.lastWriteError = e;
    }
    // A snapshot: appends and evictions while the caller reads do not move what it reads.
    const segments = t.segments.map((s) => ({ seg: s, count: s.offset.length }));
    const match = this.matching(t, segments, filter);
    if (match === null) return;
    for (const { seg, count } of segments) {
      let buf: Buffer;
      try {
        buf = this.segmentContent(t, seg);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // evicted meanwhile
        throw e;
      }
      // each block is checked once, when its first record is read
      let block = -1;
      let intact = true;
      for (let i = 0; i < count; i++) {
        if (match !== undefined && !match.has(seg.journeys[seg.journey.at(i)] as string)) continue;
        const off = seg.offset.at(i);
        const end = off + seg.size.at(i);
        if (seg.version === 2 && seg.block.at(i) !== block) {
          block = seg.block.at(i);
          intact = blockIntact(buf, block);
          if (!intact) this.badRead(t, seg, block, buf);
        }
        if (!intact) continue;
        const raw = buf.subarray(off, end);
        let event: Event | undefined;
        try {
          event = decodeMessage<Event>('Event', raw);
        } catch (e) {
          if (!(e instanceof ProtoDecodeError)) throw e;
          this.badRead(t, seg, off, buf, end);
        }
        if (event) yield { raw, event };
      }
    }
  }

  /** A segment's bytes: its file, with the writes it has not taken yet laid over it. */
  private segmentContent(t: TraceState, seg: Segment): Buffer {
    let buf = readFileSync(seg.path);
    for (const c of t.writing) {
      if (c.done || c.file.path !== seg.path) continue;
      if (buf.length < c.position + c.len) {
        const grown = Buffer.alloc(c.position + c.len);
        buf.copy(grown);
        buf = grown;
      }
      c.buf.copy(buf, c.position, 0, c.len);
    }
    return buf;
  }

  /** A block (or a version 1 record, from `at` to `end`) that changed since it was written. */
  private badRead(t: TraceState, seg: Segment, at: number, buf: Buffer, end?: number): void {
    const key = `${seg.path}:${at}`;
    if (this.badReads.has(key)) return;
    this.badReads.add(key);
    let records = 0;
    for (let i = 0; i < seg.offset.length; i++) if (seg.block.at(i) === at) records++;
    const len = end !== undefined ? end - at : readBlockLength(buf, at);
    this.warn({
      trace: t.name,
      file: seg.path,
      offset: at,
      ...(len !== undefined ? { bytes: len } : {}),
      records: end !== undefined ? 1 : records,
      message:
        end === undefined
          ? `checksum mismatch on read (the file changed since it was written): its ${records} records skipped, not served`
          : 'record is no longer a valid event (version 1 segment, no checksum): skipped',
    });
  }

  storedBytes(trace: string): number {
    return this.traces.get(trace)?.bytes ?? 0;
  }

  /** Bytes of every trace's segments (what totalCapBytes bounds). */
  totalStoredBytes(): number {
    return this.totalBytes;
  }

  /** Events dropped by the size cap so far. */
  evicted(trace: string): number {
    return this.traces.get(trace)?.evicted ?? 0;
  }

  /** Events refused by quotas since the store was opened (each also reported to onRefused). */
  refused(trace: string): number {
    let n = 0;
    for (const v of this.traces.get(trace)?.refused.values() ?? []) n += v;
    return n;
  }

  /** Each node's bytes in the trace, its share and what it had refused, by node name. */
  nodeUsage(trace: string): NodeUsage[] {
    const t = this.traces.get(trace);
    if (!t) return [];
    const share = t.quota.share();
    return t.quota
      .nodes()
      .map((id) => ({
        node: t.strings[id] as string,
        bytes: t.quota.stored(id),
        share,
        refused: t.refused.get(id) ?? 0,
      }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
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
        if (err) {
          rmSync(tmp, { force: true }); // a part written takes room a full disk lacks
          // Said once until a save of the file works again (every 2 s the same line otherwise).
          if (this.unsaved.get(file) !== err.message)
            this.opts.onWarning?.(`${tmp}: not saved: ${err.message} (said once until a save works again)`, {
              trace: '',
              file: tmp,
              offset: 0,
              message: err.message,
            });
          this.unsaved.set(file, err.message);
          if (this.unsaved.size > 1024) this.unsaved.delete(this.unsaved.keys().next().value as string);
        } else {
          this.unsaved.delete(file); // saved again: a later failure is said again
          if (this.closed || (this.generations.get(file) ?? 0) !== generation) rmSync(tmp, { force: true });
          else renameSync(tmp, file);
        }
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
      const to = setAside(file);
      this.warn({ trace: '', file, offset: 0, message: `unreadable, set aside as ${to}: ${(e as Error).message}` });
      return undefined;
    }
  }

  /** Removes a trace and everything stored for it. */
  deleteTrace(trace: string): void {
    this.check();
    const t = this.traces.get(trace);
    if (!t) return;
    for (const c of t.writing) c.done = true;
    for (const c of [...t.writing]) this.settle(t, c);
    this.release(t);
    rmSync(t.dir, { recursive: true, force: true });
    this.totalBytes -= t.bytes;
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
      try {
        this.writeNow(t);
      } catch (e) {
        if (!(e instanceof StoreWriteError)) throw e;
        failed ??= e;
        for (const c of t.writing) c.done = true;
        for (const c of [...t.writing]) this.settle(t, c);
      }
      this.release(t);
    }
    this.closed = true;
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

  private trace(name: string, create: boolean): TraceState | undefined {
    let t = this.traces.get(name);
    if (t || !create) return t;
    const dir = join(this.dir, traceDirName(name));
    // A directory of this name not loaded (its trace.json was lost and its name could not be
    // told from the directory's): it is this trace's, and its segments are kept.
    if (existsSync(dir) && this.load(dir, name)) return this.traces.get(name) as TraceState;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new StoreWriteError(dir, e as NodeJS.ErrnoException);
    }
    t = this.newTraceState(name, dir);
    this.traces.set(name, t);
    this.saveTraceFile(t);
    return t;
  }

  private newTraceState(name: string, dir: string): TraceState {
    return {
      name,
      dir,
      segments: [],
      bytes: 0,
      evicted: 0,
      nextSeq: 1,
      quota: new NodeQuota(this.capBytes, this.floorBytes),
      refused: new Map(),
      file: undefined,
      pending: undefined,
      writing: [],
      unsynced: new Set(),
      summary: undefined,
      strings: [''],
      stringIds: new Map([['', 0]]),
    };
  }

  /**
   * trace.json, replaced atomically. When the disk refuses, the old one stays (its evicted count
   * behind): reported, not thrown, so that an eviction on a full disk does not stop the append.
   */
  private saveTraceFile(t: TraceState): void {
    const file = join(t.dir, 'trace.json');
    try {
      writeAtomically(file, `${JSON.stringify({ name: t.name, evicted: t.evicted })}\n`);
    } catch (e) {
      rmSync(`${file}.tmp`, { force: true });
      this.warn({
        trace: t.name,
        file,
        offset: 0,
        message: `not saved (${(e as Error).message}): the evicted count in it is behind`,
      });
    }
  }

  /**
   * Hands what is pending to the thread pool, written at its place in the segment (a write to a
   * file can wait on the disk or the filesystem's journal, on the thread taking events in: 10%
   * of its time in profiles). Reads and close catch up first (writeNow).
   */
  private write(t: TraceState): void {
    const chunk = this.takePending(t);
    if (chunk) this.submit(t, chunk);
  }

  /** What is pending, as a chunk of the last segment's file (not written yet). */
  private takePending(t: TraceState): Chunk | undefined {
    const w = t.pending;
    if (w === undefined || w.pos === 0) return undefined;
    const seg = t.segments[t.segments.length - 1] as Segment;
    const file = (t.file ??= openForWriting(seg));
    const chunk: Chunk = {
      file,
      buf: w.buf,
      len: w.pos,
      position: seg.written,
      inFlight: false,
      done: false,
      settled: false,
    };
    seg.written += w.pos;
    t.pending = new ProtoWriter(PENDING_BYTES * 2); // the chunk keeps the old buffer until written
    file.writes++;
    t.writing.push(chunk);
    t.unsynced.add(file.path);
    return chunk;
  }

  private submit(t: TraceState, c: Chunk): void {
    c.inFlight = true;
    write(c.file.fd, c.buf, 0, c.len, c.position, (err, n) => {
      c.inFlight = false;
      if (!err && n === c.len) c.done = true;
      else if (!c.done) this.refusedWrite(t, c, err ?? shortWrite(n, c.len));
      this.settle(t, c);
    });
  }

  /** A write the disk refused: kept, to be made again at its place (flush, sync, close). */
  private refusedWrite(t: TraceState, c: Chunk, err: NodeJS.ErrnoException): void {
    const first = this.lastWriteError === undefined;
    this.lastWriteError = new StoreWriteError(c.file.path, err);
    if (first)
      this.warn({
        trace: t.name,
        file: c.file.path,
        offset: c.position,
        bytes: c.len,
        message: `${c.len} bytes not written (${err.message}): kept, and written again by the next flush or sync`,
      });
  }

  /** A chunk done and back from the pool leaves the list; its file closes after its last. */
  private settle(t: TraceState, c: Chunk): void {
    if (!c.done || c.inFlight || c.settled) return;
    c.settled = true;
    const i = t.writing.indexOf(c);
    if (i >= 0) t.writing.splice(i, 1);
    if (--c.file.writes === 0 && c.file.closeWhenDone) closeSync(c.file.fd);
  }

  /**
   * Everything appended is in the files when this returns: writes still with the thread pool or
   * refused by the disk are made again here, the same bytes at the same place (when the pool's
   * lands, nothing changes), then what is pending. Throws StoreWriteError, keeping what the disk
   * did not take.
   */
  private writeNow(t: TraceState): void {
    this.takePending(t);
    for (const c of [...t.writing]) {
      if (c.done) continue;
      try {
        writeFully(c.file.fd, c.buf, c.len, c.position);
      } catch (e) {
        throw new StoreWriteError(c.file.path, e as NodeJS.ErrnoException);
      }
      c.done = true;
      this.settle(t, c);
    }
  }

  /** The last segment's file is closed as soon as its writes are done. */
  private release(t: TraceState): void {
    const file = t.file;
    t.file = undefined;
    if (!file) return;
    file.closeWhenDone = true;
    if (file.writes === 0) closeSync(file.fd);
  }

  /**
   * A new segment, after the last: its file is created, never opened over an existing one (a
   * number taken is passed over); its header is the first of what is pending for it.
   */
  private startSegment(t: TraceState): Segment {
    this.write(t); // what is pending belongs to the segment being closed
    this.release(t);
    for (;;) {
      const seq = t.nextSeq++;
      const path = join(t.dir, segmentName(seq));
      let fd: number;
      try {
        fd = openSync(path, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new StoreWriteError(path, e as NodeJS.ErrnoException);
      }
      const seg = newSegment(seq, path, 2);
      seg.appendable = true;
      t.file = { fd, path, writes: 0, closeWhenDone: false };
      (t.pending ??= new ProtoWriter(PENDING_BYTES * 2)).raw(SEGMENT_MAGIC);
      seg.bytes = SEGMENT_HEADER_BYTES;
      t.bytes += SEGMENT_HEADER_BYTES;
      this.totalBytes += SEGMENT_HEADER_BYTES;
      t.segments.push(seg);
      return seg;
    }
  }

  private index(t: TraceState, seg: Segment, block: number, offset: number, size: number, f: RecordFields): void {
    seg.offset.push(offset);
    seg.block.push(block);
    seg.size.push(size);
    seg.journey.push(journeyIndex(seg, f.journey));
    seg.node.push(stringId(t, f.node));
    seg.pod.push(stringId(t, f.pod));
    seg.drop.push(stringId(t, f.drop));
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

  /**
   * Reads a trace directory back: its name, summary, and each segment's records. `name` is
   * the trace's when a live trace claims the directory. Returns whether the trace was loaded.
   */
  private load(dir: string, name?: string): boolean {
    const traceFile = join(dir, 'trace.json');
    const segs = readdirSync(dir)
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let info: { name?: unknown; evicted?: unknown } = {};
    let problem = '';
    try {
      info = JSON.parse(readFileSync(traceFile, 'utf8')) as { name?: unknown; evicted?: unknown };
      if (typeof info.name !== 'string' || info.name === '') problem = 'no trace name in it';
    } catch (e) {
      problem = (e as Error).message;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && segs.length === 0 && !existsSync(join(dir, 'meta.json'))) {
        if (name === undefined)
          this.warn({ trace: '', file: traceFile, offset: 0, message: 'not a trace directory, skipped' });
        return false;
      }
    }
    const found = typeof info.name === 'string' && info.name !== '' ? info.name : undefined;
    const fromDir = traceNameOfDir(basename(dir));
    const traceName = name ?? found ?? fromDir;
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
    if (this.traces.has(traceName as string)) {
      this.warn({
        trace: traceName as string,
        file: dir,
        offset: 0,
        message: `a second directory for this trace (${this.traces.get(traceName as string)?.dir} is loaded): kept untouched, not read`,
      });
      return false;
    }
    this.orphans.delete(dir);
    const t = this.newTraceState(traceName as string, dir);
    t.evicted = typeof info.evicted === 'number' && !problem ? info.evicted : 0;
    const metaFile = join(dir, 'meta.json');
    if (existsSync(metaFile)) {
      try {
        t.summary = reviveSummary(JSON.parse(readFileSync(metaFile, 'utf8')) as unknown);
      } catch (e) {
        const to = setAside(metaFile);
        this.warn({
          trace: t.name,
          file: metaFile,
          offset: 0,
          message: `summary unreadable (${(e as Error).message}), set aside as ${basename(to)}; counts start again from 0`,
        });
      }
    }
    for (let k = 0; k < segs.length; k++) {
      const seq = segs[k] as number;
      const seg = newSegment(seq, join(dir, segmentName(seq)), 2);
      this.scanSegment(t, seg, k === segs.length - 1);
      t.segments.push(seg);
      t.bytes += seg.bytes;
      t.nextSeq = seq + 1;
    }
    this.totalBytes += t.bytes;
    this.traces.set(t.name, t);
    if (problem) {
      this.saveTraceFile(t);
      // what was there is only read: new events go to a new segment
      const lastSeg = t.segments[t.segments.length - 1];
      if (lastSeg) lastSeg.appendable = false;
    }
    // The cap may be smaller than when these were written: the oldest go, whoever's they hold.
    let changed = false;
    while (t.bytes > this.capBytes && t.segments.length > 1) {
      const old = t.segments[0] as Segment;
      this.evict(t);
      changed = true;
      this.warn({
        trace: t.name,
        file: old.path,
        offset: 0,
        bytes: old.bytes,
        records: old.offset.length,
        message: `evicted on open: the trace holds more than capBytes (${this.capBytes})`,
      });
    }
    if (changed) this.saveTraceFile(t);
    return true;
  }

  /**
   * Indexes a segment file's records. Damage is skipped and reported, every record after it
   * kept; only at the end of the last segment, where no record follows, is it cut off.
   */
  private scanSegment(t: TraceState, seg: Segment, last: boolean): void {
    let buf = readFileSync(seg.path);
    const { version, headerIntact } = segmentVersion(buf);
    seg.version = version;
    if (version === 1) {
      this.scanVersion1(t, seg, buf);
      return;
    }
    let pos = SEGMENT_HEADER_BYTES;
    seg.appendable = last && headerIntact;
    if (!headerIntact) {
      if (buf.length < SEGMENT_HEADER_BYTES) {
        // cut while it was created: nothing in it yet
        if (last) {
          if (buf.length > 0)
            this.warn({
              trace: t.name,
              file: seg.path,
              offset: 0,
              bytes: buf.length,
              message: 'segment header cut short (a crash as the segment was made): written again',
            });
          const fd = openSync(seg.path, 'r+');
          try {
            writeFully(fd, SEGMENT_MAGIC, SEGMENT_MAGIC.length, 0);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          buf = SEGMENT_MAGIC;
          seg.appendable = true;
        }
        seg.bytes = seg.written = buf.length;
        return;
      }
      const firstBlock = nextBlock(buf, 0, buf.length);
      pos = firstBlock < 0 ? buf.length : firstBlock;
      const head = firstBlock < 0 ? undefined : readBlock(buf, firstBlock, buf.length);
      const records = typeof head === 'object' ? head.first : undefined;
      this.warn({
        trace: t.name,
        file: seg.path,
        offset: 0,
        bytes: pos,
        ...(records !== undefined ? { records } : {}),
        message:
          `segment header damaged (${describeDamage(buf, 0, pos, 'no block starts here')}): ${pos} bytes skipped` +
          `${records !== undefined ? `, ${records} record${records === 1 ? '' : 's'} lost` : ''}; ` +
          'the records after them are read, and new ones go to a new segment',
      });
    }
    let expect = 0;
    let end = buf.length;
    let unknownSender = false;
    while (pos < end) {
      const r = readBlock(buf, pos, end);
      if (typeof r === 'string') {
        const next = nextBlock(buf, pos + 1, end);
        const to = next < 0 ? end : next;
        const what = describeDamage(buf, pos, to, r);
        if (next >= 0) {
          const first = (readBlock(buf, next, end) as { first: number }).first;
          const records = first >= expect ? first - expect : undefined;
          const lost = records !== undefined ? `, ${records} record${records === 1 ? '' : 's'} lost` : '';
          this.warn({
            trace: t.name,
            file: seg.path,
            offset: pos,
            bytes: to - pos,
            ...(records !== undefined ? { records } : {}),
            message: `${what}: ${to - pos} bytes skipped${lost}; the records after them are kept`,
          });
          pos = next;
          continue;
        }
        if (last) {
          this.warn({
            trace: t.name,
            file: seg.path,
            offset: pos,
            bytes: end - pos,
            message:
              `${what} at the end of the last segment (a crash while writing?): the last ${end - pos} bytes, ` +
              `with no record after them, cut off (the file now ends at ${pos}); the records before are kept`,
          });
          const fd = openSync(seg.path, 'r+');
          try {
            ftruncateSync(fd, pos);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          end = pos;
        } else {
          this.warn({
            trace: t.name,
            file: seg.path,
            offset: pos,
            bytes: end - pos,
            message: `${what}: the last ${end - pos} bytes of the segment skipped, left in the file`,
          });
          pos = end;
        }
        break;
      }
      pos = r.end;
      if (r.type === BLOCK_SENDER) {
        const name = buf.toString('utf8', r.start, r.end);
        seg.senders[r.sender] = name;
        seg.senderIds.set(name, r.sender);
        this.charge(t, seg, name, r.end - r.at);
        continue;
      }
      expect = r.first;
      if (r.type !== BLOCK_RECORDS) {
        this.warn({
          trace: t.name,
          file: seg.path,
          offset: r.at,
          bytes: r.end - r.at,
          message: `block of unknown type ${r.type} (a newer retrace?): skipped`,
        });
        continue;
      }
      // Its records: sender, length, event.
      for (let p = r.start; p < r.end;) {
        const len = p + 2 < r.end ? readVarint(buf, p + 2, r.end) : undefined;
        if (len === undefined || len[1] + len[0] > r.end) {
          this.warn({
            trace: t.name,
            file: seg.path,
            offset: p,
            bytes: r.end - p,
            message: 'the rest of a block is not records (its checksum holds: written so), skipped',
          });
          break;
        }
        const [size, start] = len;
        const sid = (buf[p] as number) | ((buf[p + 1] as number) << 8);
        const charged = start + size - p;
        p = start + size;
        expect++;
        const f = recordFields(buf, start, start + size);
        if (f === undefined) {
          this.warn({
            trace: t.name,
            file: seg.path,
            offset: start,
            bytes: size,
            records: 1,
            message: 'record is not a valid event (its checksum holds: written so), skipped',
          });
          continue;
        }
        this.index(t, seg, r.at, start, size, f);
        let sender = seg.senders[sid];
        if (sender === undefined) {
          // the block naming it was damaged: charged to the node the event names
          unknownSender = true;
          sender = f.node;
        }
        this.charge(t, seg, sender, charged);
      }
      seg.nextRecord = Math.max(seg.nextRecord, expect);
    }
    if (unknownSender)
      this.warn({
        trace: t.name,
        file: seg.path,
        offset: 0,
        message: "some events' sender is not named (its block was damaged): charged to the node each event names",
      });
    seg.bytes = seg.written = end;
  }

  /** A version 1 segment (no checksums): read up to the first damage, never changed. */
  private scanVersion1(t: TraceState, seg: Segment, buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      const len = readVarint(buf, pos, buf.length);
      // Records are never empty: a zero length is zeroed bytes.
      if (len === undefined || len[0] === 0 || len[1] + len[0] > buf.length) {
        this.warn({
          trace: t.name,
          file: seg.path,
          offset: pos,
          bytes: buf.length - pos,
          message:
            `record cut short or damaged in a version 1 segment (no checksums, so nothing after it can be ` +
            `found): the last ${buf.length - pos} bytes are left in the file, unread`,
        });
        break;
      }
      const [size, start] = len;
      const f = recordFields(buf, start, start + size);
      if (f === undefined)
        this.warn({
          trace: t.name,
          file: seg.path,
          offset: pos,
          bytes: start + size - pos,
          records: 1,
          message: 'record is not a valid event, skipped',
        });
      else {
        this.index(t, seg, 0, start, size, f);
        this.charge(t, seg, f.node, start + size - pos);
      }
      pos = start + size;
    }
    seg.bytes = seg.written = buf.length;
  }

  /** Bytes of a stored record, on its sender's account. */
  private charge(t: TraceState, seg: Segment, node: string, bytes: number): void {
    const id = stringId(t, node);
    t.quota.add(id, bytes);
    seg.nodeBytes.set(id, (seg.nodeBytes.get(id) ?? 0) + bytes);
  }
}

/** fsync of a segment file: through its open descriptor, or opened for it (gone: evicted). */
function fsyncFile(path: string, open: SegmentFile | undefined): void {
  if (open?.path === path) return fsyncSync(open.fd);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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

function newSegment(seq: number, path: string, version: SegmentVersion): Segment {
  return {
    seq,
    path,
    version,
    appendable: false,
    bytes: 0,
    written: 0,
    nextRecord: 0,
    senders: [],
    senderIds: new Map(),
    nodeBytes: new Map(),
    offset: new U32(),
    block: new U32(),
    size: new U32(),
    journey: new U32(),
    node: new U32(),
    pod: new U32(),
    drop: new U32(),
    journeys: [],
    journeyIds: new Map(),
  };
}

const segmentName = (seq: number): string => `seg-${String(seq).padStart(8, '0')}.rec`;

/** Writes all of `buf[0, len)` at `position` (a full disk can take part of it, then refuse). */
function writeFully(fd: number, buf: Uint8Array, len: number, position: number): void {
  for (let done = 0; done < len;) {
    const n = writeSync(fd, buf, done, len - done, position + done);
    if (n <= 0) throw shortWrite(done, len);
    done += n;
  }
}

function shortWrite(n: number, len: number): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`only ${n} of ${len} bytes written (the disk is full?)`);
  e.code = 'ENOSPC';
  return e;
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

/** Where encode puts each kept record's body start (in the pending buffer), size and event. */
let recordStarts = new Uint32Array(256);
let recordSizes = new Uint32Array(256);
let recordEvent = new Uint32Array(256);
let recordBlock = new Uint32Array(256);

/** What encode did for one journey: bytes per sender, events refused per sender, senders named. */
const encoded = {
  charged: new Map<number, number>(),
  refused: new Map<number, number>(),
  declared: [] as string[],
  seqBefore: 0,
};

/** The body length a block header at `at` gives, with the header (undefined when cut). */
function readBlockLength(b: Uint8Array, at: number): number | undefined {
  if (at + BLOCK_HEADER_BYTES > b.length) return undefined;
  return BLOCK_HEADER_BYTES + ((b[at + 7] as number) | ((b[at + 8] as number) << 8) | ((b[at + 9] as number) << 16));
}

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
