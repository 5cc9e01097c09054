// One trace in the store: its directory, its segments (the last one taking appends), their index,
// the bytes each node has in them, and its writer. What is the whole store's (its caps and
// totals, its state files, its warnings) comes in through a TraceContext.
import { openSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ProtoDecodeError, decodeMessage, type Event, type TraceSummary } from '@retrace/events';
import { fsyncDir } from './durable-fs.js';
import { StoreWriteError, type FileWarning, type StoreWarning } from './errors.js';
import { NodeQuota } from './node-quota.js';
import { SEGMENT_HEADER_BYTES, blockIntact, blockLength } from './segment-format.js';
import { StringTable, matchingJourneys, type StoreFilter } from './segment-index.js';
import { scanSegment, type ScanSink } from './segment-scan.js';
import { SegmentWriter } from './segment-writer.js';
import { newSegment, segmentName, type Segment, type SegmentExtent } from './segment.js';
import type { StoreSpace } from './space.js';
import type { StateFiles } from './state-files.js';

/** What a trace needs of its store. */
export interface TraceContext {
  readonly space: StoreSpace;
  readonly states: StateFiles;
  warn(w: StoreWarning): void;
  /** A segment write the disk refused (kept, and written again by the next flush or sync). */
  refusedWrite(trace: string, file: string, position: number, len: number, err: NodeJS.ErrnoException): void;
}

/** A node's use of a trace's space. */
export interface NodeUsage {
  node: string;
  bytes: number;
  share: number;
  /** Events refused since the store was opened. */
  refused: number;
}

export class StoredTrace {
  readonly segments: Segment[] = [];
  /** Bytes of its segments. */
  bytes = 0;
  /** Events evicted by the caps so far. */
  evicted = 0;
  private nextSeq = 1;
  readonly quota: NodeQuota;
  /** Events refused per node (string id), since the store was opened. */
  readonly refused = new Map<number, number>();
  readonly writer: SegmentWriter;
  summary: TraceSummary | undefined;
  /** Node, pod and drop-reason strings by id (0: none). */
  readonly strings = new StringTable('');
  /** Records found changed on a read, reported once each. */
  private readonly badReads = new Set<string>();

  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly ctx: TraceContext,
  ) {
    this.quota = new NodeQuota(ctx.space.limits.capBytes, ctx.space.limits.floorBytes);
    this.writer = new SegmentWriter((file, position, len, err) => ctx.refusedWrite(name, file, position, len, err));
  }

  last(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  /** The segment appends go to: the last, or a new one when it takes no more. */
  appendTarget(): Segment {
    const seg = this.last();
    return seg?.appendable ? seg : this.startSegment();
  }

  /**
   * A new segment, after the last: its file is created, never opened over an existing one (a
   * number taken is passed over); its header is the first of what is pending for it.
   */
  startSegment(): Segment {
    this.writer.write(this.last()); // what is pending belongs to the segment being closed
    this.writer.release();
    this.last()?.index.trim(); // its index is complete (a fifth of its memory was room to grow)
    for (;;) {
      const seq = this.nextSeq++;
      const path = join(this.dir, segmentName(seq));
      let fd: number;
      try {
        fd = openSync(path, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new StoreWriteError(path, e as NodeJS.ErrnoException);
      }
      const seg = newSegment(seq, path, 2);
      seg.appendable = true;
      this.writer.begin(fd, path);
      this.segments.push(seg);
      this.grow(seg, SEGMENT_HEADER_BYTES);
      return seg;
    }
  }

  /** Bytes added to a segment (the trace's and the store's totals follow). */
  grow(seg: Segment, bytes: number): void {
    seg.bytes += bytes;
    this.bytes += bytes;
    this.ctx.space.totalBytes += bytes;
  }

  /** Bytes of a stored record, on its sender's account. */
  charge(seg: Segment, node: string, bytes: number): void {
    const id = this.strings.id(node);
    this.quota.add(id, bytes);
    seg.nodeBytes.set(id, (seg.nodeBytes.get(id) ?? 0) + bytes);
  }

  /** Evicts the oldest segment if it is not the last and its nodes are all past their share. */
  evictOldest(): boolean {
    const old = this.segments[0];
    if (!old || this.segments.length < 2 || !this.quota.evictable(old.nodeBytes)) return false;
    this.evict();
    return true;
  }

  private evict(): Segment {
    const old = this.segments.shift() as Segment;
    this.writer.discard(old.path);
    rmSync(old.path, { force: true });
    this.bytes -= old.bytes;
    this.ctx.space.totalBytes -= old.bytes;
    this.evicted += old.index.count;
    for (const [node, b] of old.nodeBytes) this.quota.remove(node, b);
    this.saveTraceFile();
    return old;
  }

  saveTraceFile(): void {
    this.ctx.states.saveTraceFile(this.dir, this.name, this.evicted);
  }

  /**
   * Reads the trace's segment files (by number, oldest first) into the index. The cap may be
   * smaller than when they were written: then the oldest go, whoever's they hold.
   */
  load(seqs: number[]): void {
    for (let k = 0; k < seqs.length; k++) {
      const seq = seqs[k] as number;
      const seg = newSegment(seq, join(this.dir, segmentName(seq)), 2);
      scanSegment(seg, k === seqs.length - 1, this.scanSink(seg));
      this.segments.push(seg);
      this.bytes += seg.bytes;
      this.ctx.space.totalBytes += seg.bytes;
      this.nextSeq = seq + 1;
    }
    const cap = this.ctx.space.limits.capBytes;
    while (this.bytes > cap && this.segments.length > 1) {
      const old = this.evict();
      this.warn(old, {
        offset: 0,
        bytes: old.bytes,
        records: old.index.count,
        message: `evicted on open: the trace holds more than capBytes (${cap})`,
      });
    }
  }

  private scanSink(seg: Segment): ScanSink {
    return {
      warn: (w) => this.warn(seg, w),
      record: (block, offset, size, f) => seg.index.addRecord(this.strings, block, offset, size, f),
      charge: (node, bytes) => this.charge(seg, node, bytes),
    };
  }

  private warn(seg: Segment, w: FileWarning): void {
    this.ctx.warn({ trace: this.name, file: seg.path, ...w });
  }

  /**
   * The stored events in the order they were stored, filtered per journey. Each block's checksum
   * is checked: one that changed since it was written is skipped and reported. Call writeNow()
   * first: what the disk has not taken is read from memory.
   */
  *read(filter: StoreFilter): Generator<{ raw: Uint8Array; event: Event }> {
    // A snapshot: appends and evictions while the caller reads do not move what it reads.
    const segments = this.segments.map((seg) => ({ seg, index: seg.index, count: seg.index.count }));
    const match = matchingJourneys(this.strings, segments, filter);
    if (match === null) return;
    for (const { seg, index, count } of segments) {
      let buf: Buffer;
      try {
        buf = this.writer.overlay(seg.path, readFileSync(seg.path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // evicted meanwhile
        throw e;
      }
      // each block is checked once, when its first record is read
      let block = -1;
      let intact = true;
      for (let i = 0; i < count; i++) {
        if (match !== undefined && !match.has(index.journeyOf(i))) continue;
        const off = index.offset.at(i);
        const end = off + index.size.at(i);
        if (seg.version === 2 && index.block.at(i) !== block) {
          block = index.block.at(i);
          intact = blockIntact(buf, block);
          if (!intact) this.badRead(seg, block, buf);
        }
        if (!intact) continue;
        const raw = buf.subarray(off, end);
        let event: Event | undefined;
        try {
          event = decodeMessage<Event>('Event', raw);
        } catch (e) {
          if (!(e instanceof ProtoDecodeError)) throw e;
          this.badRead(seg, off, buf, end);
        }
        if (event) yield { raw, event };
      }
    }
  }

  /** A block (or a version 1 record, from `at` to `end`) that changed since it was written. */
  private badRead(seg: Segment, at: number, buf: Buffer, end?: number): void {
    const key = `${seg.path}:${at}`;
    if (this.badReads.has(key)) return;
    this.badReads.add(key);
    const records = end !== undefined ? 1 : seg.index.recordsIn(at);
    const len = end !== undefined ? end - at : blockLength(buf, at);
    this.warn(seg, {
      offset: at,
      ...(len !== undefined ? { bytes: len } : {}),
      records,
      message:
        end === undefined
          ? `checksum mismatch on read (the file changed since it was written): its ${records} records skipped, not served`
          : 'record is no longer a valid event (version 1 segment, no checksum): skipped',
    });
  }

  /** Everything appended is in the files (StoreWriteError when the disk refuses). */
  writeNow(): void {
    this.writer.writeNow(this.last());
  }

  /** Hands pending appends, and writes the disk refused before, to the thread pool. */
  flush(): void {
    this.writer.flush(this.last());
  }

  /** Everything appended is on disk: written, each segment written since fsynced, the directory fsynced. */
  sync(): void {
    try {
      this.writeNow();
      this.writer.fsyncWritten();
      fsyncDir(this.dir);
    } catch (e) {
      throw e instanceof StoreWriteError ? e : new StoreWriteError(this.dir, e as NodeJS.ErrnoException);
    }
  }

  /** Its segment files and their sizes (after sync(), what is on disk). */
  extents(): SegmentExtent[] {
    return this.segments.map((s) => ({ file: basename(s.path), bytes: s.written }));
  }

  /** Events refused by quotas since the store was opened. */
  refusedEvents(): number {
    let n = 0;
    for (const v of this.refused.values()) n += v;
    return n;
  }

  /** Each node's bytes in the trace, its share and what it had refused, by node name. */
  nodeUsage(): NodeUsage[] {
    const share = this.quota.share();
    return this.quota
      .nodes()
      .map((id) => ({
        node: this.strings.at(id),
        bytes: this.quota.stored(id),
        share,
        refused: this.refused.get(id) ?? 0,
      }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** Removes the trace's directory and everything in it. */
  remove(): void {
    this.writer.discard();
    this.writer.release();
    rmSync(this.dir, { recursive: true, force: true });
    this.ctx.space.totalBytes -= this.bytes;
  }

  /** Writes what is left and closes its files; returns the error of a disk that refused (those events lost). */
  close(): StoreWriteError | undefined {
    let failed: StoreWriteError | undefined;
    try {
      this.writeNow();
    } catch (e) {
      if (!(e instanceof StoreWriteError)) throw e;
      failed = e;
      this.writer.discard();
    }
    this.writer.release();
    return failed;
  }
}
