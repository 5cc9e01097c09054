// A segment file of a trace in memory: where it is, how far it is written, the senders it names,
// the bytes it holds per node, and the index of its records. Segment files are numbered in the
// order they were made (seg-00000001.rec, ...), only ever created, never written over.
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { truncateDurably } from './durable-fs.js';
import { SegmentIndex } from './segment-index.js';
import type { SegmentVersion } from './segment-format.js';

export interface Segment {
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
  index: SegmentIndex;
}

/** A segment's file and its size: what extents() lists and rollBack() returns a trace to. */
export interface SegmentExtent {
  file: string;
  bytes: number;
}

const SEGMENT_RE = /^seg-(\d{8})\.rec$/;

export const segmentName = (seq: number): string => `seg-${String(seq).padStart(8, '0')}.rec`;

/** The numbers of a trace directory's segment files, oldest first. */
export function segmentNumbers(traceDir: string): number[] {
  return readdirSync(traceDir)
    .map((f) => SEGMENT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export function newSegment(seq: number, path: string, version: SegmentVersion): Segment {
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
    index: new SegmentIndex(),
  };
}

/**
 * Returns a trace directory (its trace closed) to `extents`: segments cut back to their size
 * then, newer segments deleted; segments evicted since stay gone. Says what it did.
 */
export function rollBackSegments(traceDir: string, extents: SegmentExtent[]): string[] {
  const done: string[] = [];
  const keep = new Map(extents.map((s) => [s.file, s.bytes]));
  const newest = Math.max(0, ...extents.map((s) => Number(SEGMENT_RE.exec(s.file)?.[1] ?? 0)));
  for (const seq of segmentNumbers(traceDir)) {
    const f = segmentName(seq);
    const path = join(traceDir, f);
    const bytes = keep.get(f);
    if (bytes === undefined) {
      if (seq > newest) {
        unlinkSync(path);
        done.push(`${path}: removed (started after the checkpoint)`);
      }
      continue;
    }
    const size = statSync(path).size;
    if (size > bytes) {
      truncateDurably(path, bytes);
      done.push(`${path}: ${size - bytes} bytes appended after the checkpoint removed`);
    }
  }
  return done;
}
