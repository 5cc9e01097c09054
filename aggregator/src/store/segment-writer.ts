// Write scheduling of one trace's segments. Appends are gathered in memory and written a chunk at
// a time (PENDING_BYTES, or a flush, which the aggregator calls a few times a second): one write
// per journey cost more than sorting it. The thread pool writes each chunk at its place in the
// segment file (a write can wait on the disk or the filesystem's journal, on the thread taking
// events in: 10% of its time in profiles); reads and close first write synchronously whatever is
// not known to be written. A chunk the disk refuses (ENOSPC) is kept and written again at its
// place by the next flush or sync; reads see it from memory meanwhile. Nothing is fsynced but by
// sync: a crash loses what was pending or what the OS had not written.
import { closeSync, fsyncSync, openSync, write } from 'node:fs';
import { ProtoWriter } from '@retrace/events';
import { fsyncPath, shortWrite, writeFully } from './durable-fs.js';
import { StoreWriteError } from './errors.js';
import { SEGMENT_MAGIC } from './segment-format.js';
import type { Segment } from './segment.js';

/** Appended bytes gathered before a write. */
const PENDING_BYTES = 1 << 20;
/** Written chunks' buffers kept for the next ones. */
const SPARE_BUFFERS = 2;

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
  /** Off the list and uncounted from its file's writes. */
  settled: boolean;
}

/** A write the disk refused: the file, where and how much, and why. */
export type RefusedWrite = (file: string, position: number, len: number, err: NodeJS.ErrnoException) => void;

export class SegmentWriter {
  /** The last segment's file, open for writing (opened on the first write). */
  private file: SegmentFile | undefined;
  /** Records appended to the last segment, not handed to a write yet (made on the first append). */
  private pending: ProtoWriter | undefined;
  /** Writes not known to be on disk, oldest first: with the thread pool, or refused by the disk. */
  private readonly writing: Chunk[] = [];
  /** Segment files written to since the last sync (a segment closed since still needs its fsync). */
  private readonly unsynced = new Set<string>();
  /**
   * Buffers of chunks written, for the next ones: a new 2 MiB buffer per chunk cost its pages'
   * first touch and a collection of external memory to get rid of.
   */
  private readonly spare: Buffer[] = [];

  constructor(private readonly onRefused: RefusedWrite) {}

  /** What is pending for the last segment: appends encode into it. */
  get buffer(): ProtoWriter {
    return (this.pending ??= this.newPending());
  }

  private newPending(): ProtoWriter {
    const buf = this.spare.pop();
    if (buf === undefined) return new ProtoWriter(PENDING_BYTES * 2);
    const w = new ProtoWriter(0);
    w.buf = buf;
    return w;
  }

  /** Enough is pending to be worth a write. */
  get full(): boolean {
    return (this.pending?.pos ?? 0) >= PENDING_BYTES;
  }

  /** A new last segment, its file just created: its header is the first of what is pending for it. */
  begin(fd: number, path: string): void {
    this.file = { fd, path, writes: 0, closeWhenDone: false };
    this.buffer.raw(SEGMENT_MAGIC);
  }

  /** Hands what is pending for `last` (the last segment) to the thread pool. */
  write(last: Segment | undefined): void {
    const chunk = this.takePending(last);
    if (chunk) this.submit(chunk);
  }

  /** Writes again what the disk refused, then what is pending. */
  flush(last: Segment | undefined): void {
    for (const c of this.writing) if (!c.done && !c.inFlight) this.submit(c);
    this.write(last);
  }

  /**
   * Everything appended is in the files when this returns: writes still with the thread pool or
   * refused by the disk are made again here, the same bytes at the same place (when the pool's
   * lands, nothing changes), then what is pending. Throws StoreWriteError, keeping what the disk
   * did not take.
   */
  writeNow(last: Segment | undefined): void {
    this.takePending(last);
    for (const c of [...this.writing]) {
      if (c.done) continue;
      try {
        writeFully(c.file.fd, c.buf, c.len, c.position);
      } catch (e) {
        throw new StoreWriteError(c.file.path, e as NodeJS.ErrnoException);
      }
      c.done = true;
      this.settle(c);
    }
  }

  /** fsync of every segment file written since the last call; StoreWriteError names the one refused. */
  fsyncWritten(): void {
    for (const path of this.unsynced) {
      try {
        if (this.file?.path === path) fsyncSync(this.file.fd);
        else fsyncPath(path); // closed since (or evicted: nothing to do)
      } catch (e) {
        throw new StoreWriteError(path, e as NodeJS.ErrnoException);
      }
    }
    this.unsynced.clear();
  }

  /**
   * The segment files written since the last sync, for a sync made elsewhere (syncInBackground):
   * they count as synced from now on; give back with unsynced() those it could not sync.
   */
  takeUnsynced(): string[] {
    const paths = [...this.unsynced];
    this.unsynced.clear();
    return paths;
  }

  /** Files a sync could not make durable: the next sync tries them again. */
  unsyncedAgain(paths: string[]): void {
    for (const p of paths) this.unsynced.add(p);
  }

  /** Writes to `path` (an evicted segment's file) are no longer wanted; every path when none is given. */
  discard(path?: string): void {
    for (const c of this.writing) if (path === undefined || c.file.path === path) c.done = true;
    for (const c of [...this.writing]) this.settle(c);
  }

  /** The last segment's file is closed as soon as its writes are done. */
  release(): void {
    const file = this.file;
    this.file = undefined;
    if (!file) return;
    file.closeWhenDone = true;
    if (file.writes === 0) closeSync(file.fd);
  }

  /** A segment's bytes as read from its file, with the writes it has not taken yet laid over them. */
  overlay(path: string, buf: Buffer): Buffer {
    for (const c of this.writing) {
      if (c.done || c.file.path !== path) continue;
      if (buf.length < c.position + c.len) {
        const grown = Buffer.alloc(c.position + c.len);
        buf.copy(grown);
        buf = grown;
      }
      c.buf.copy(buf, c.position, 0, c.len);
    }
    return buf;
  }

  /** What is pending, as a chunk of the last segment's file (not written yet). */
  private takePending(last: Segment | undefined): Chunk | undefined {
    const w = this.pending;
    if (w === undefined || w.pos === 0 || last === undefined) return undefined;
    const file = (this.file ??= { fd: openSync(last.path, 'r+'), path: last.path, writes: 0, closeWhenDone: false });
    const chunk: Chunk = {
      file,
      buf: w.buf,
      len: w.pos,
      position: last.written,
      inFlight: false,
      done: false,
      settled: false,
    };
    last.written += w.pos;
    this.pending = this.newPending(); // the chunk keeps the old buffer until written
    file.writes++;
    this.writing.push(chunk);
    this.unsynced.add(file.path);
    return chunk;
  }

  private submit(c: Chunk): void {
    c.inFlight = true;
    write(c.file.fd, c.buf, 0, c.len, c.position, (err, n) => {
      c.inFlight = false;
      if (!err && n === c.len) c.done = true;
      else if (!c.done) this.onRefused(c.file.path, c.position, c.len, err ?? shortWrite(n, c.len));
      this.settle(c);
    });
  }

  /** A chunk done and back from the pool leaves the list; its file closes after its last. */
  private settle(c: Chunk): void {
    if (!c.done || c.inFlight || c.settled) return;
    c.settled = true;
    const i = this.writing.indexOf(c);
    if (i >= 0) this.writing.splice(i, 1);
    if (c.buf.length === PENDING_BYTES * 2 && this.spare.length < SPARE_BUFFERS) this.spare.push(c.buf);
    if (--c.file.writes === 0 && c.file.closeWhenDone) closeSync(c.file.fd);
  }
}
