// The bytes of a segment file, and how damage in them is found and stepped over.
//
// A segment starts with an 8-byte header, `RTRCSEG` and the format version (2). Then blocks, each
// a 16-byte header and its body:
//
//   0  2  magic 0xB7 0x9E         where a block starts: after damage, the next one is found by it
//   2  4  CRC-32 of bytes 6..end  (everything but the magic and itself: a flipped bit anywhere
//                                 fails it, and a magic found by chance in damaged bytes is taken
//                                 only if what follows checks)
//   6  1  type                    1: records (a journey's events); 2: a sender's name
//   7  3  body length             (little endian; a block is < 16 MiB, bigger journeys take several)
//  10  2  sender                  type 2: the number it gives the node named in its body
//  12  4  first record            the segment's count of records before this block: how many
//                                 records a damaged stretch held
//  16     body                    type 1: per record, its sender's number (2 bytes), its length
//                                 (varint) and the event (protobuf, with the store's sections)
//
// One checksum per journey rather than per event: the checksum's cost is mostly per call, and
// a journey is stored, filtered and returned whole anyway; damage in a block loses its journey.
//
// Version 1 segments (before checksums: no header, records of a varint length and the event) are
// still read, without verification: damage in one stops its reading at the damage, and the rest
// of the file is left as it is. New records always go to a version 2 segment.
import { crc32 } from './crc32.js';

export const SEGMENT_MAGIC = Buffer.from('RTRCSEG\x02', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const BLOCK_HEADER_BYTES = 16;
const M0 = 0xb7;
const M1 = 0x9e;
export const BLOCK_RECORDS = 1;
export const BLOCK_SENDER = 2;
export const MAX_BLOCK_BYTES = 0xffffff;
/** Senders per segment (the header's 2 bytes). */
export const MAX_SENDERS = 0xffff;

/** Seals the block at `at` whose body is `b[at + 16, end)`: its header, checksum last. */
export function sealBlock(b: Uint8Array, at: number, type: number, end: number, sender: number, first: number): void {
  const len = end - at - BLOCK_HEADER_BYTES;
  b[at] = M0;
  b[at + 1] = M1;
  b[at + 6] = type;
  b[at + 7] = len & 0xff;
  b[at + 8] = (len >>> 8) & 0xff;
  b[at + 9] = (len >>> 16) & 0xff;
  b[at + 10] = sender & 0xff;
  b[at + 11] = sender >>> 8;
  putU32(b, at + 12, first);
  putU32(b, at + 2, crc32(b, at + 6, end));
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}

const u32 = (b: Uint8Array, at: number): number =>
  ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>>
  0;

const bodyLength = (b: Uint8Array, at: number): number =>
  (b[at + 7] as number) | ((b[at + 8] as number) << 8) | ((b[at + 9] as number) << 16);

export interface BlockHead {
  type: number;
  sender: number;
  /** The segment's count of records before it. */
  first: number;
  /** Where the header starts, where the body starts and ends. */
  at: number;
  start: number;
  end: number;
}

/** Why the bytes at a place are not a block. */
export type Damage = 'no block starts here' | 'block cut short' | 'checksum mismatch';

/** The block at `at` (bytes up to `end`), checked, or why there is none. */
export function readBlock(b: Uint8Array, at: number, end: number): BlockHead | Damage {
  if (b[at] !== M0 || (at + 1 < end && b[at + 1] !== M1)) return 'no block starts here';
  if (end - at < BLOCK_HEADER_BYTES) return 'block cut short';
  const len = bodyLength(b, at);
  const start = at + BLOCK_HEADER_BYTES;
  if (start + len > end) return 'block cut short';
  if (crc32(b, at + 6, start + len) !== u32(b, at + 2)) return 'checksum mismatch';
  return {
    type: b[at + 6] as number,
    sender: (b[at + 10] as number) | ((b[at + 11] as number) << 8),
    first: u32(b, at + 12),
    at,
    start,
    end: start + len,
  };
}

/** The bytes of the block at `at` with its header, as its header says (undefined when the header is cut). */
export function blockLength(b: Uint8Array, at: number): number | undefined {
  return at + BLOCK_HEADER_BYTES > b.length ? undefined : BLOCK_HEADER_BYTES + bodyLength(b, at);
}

/** Whether the block at `at` still has the checksum it was written with. */
export function blockIntact(b: Uint8Array, at: number): boolean {
  return typeof readBlock(b, at, b.length) !== 'string';
}

/** The first place from `from` on where a block that checks starts; -1 when none. */
export function nextBlock(b: Buffer, from: number, end: number): number {
  for (let p = b.indexOf(M0, from); p >= 0 && p < end; p = b.indexOf(M0, p + 1))
    if (b[p + 1] === M1 && typeof readBlock(b, p, end) !== 'string') return p;
  return -1;
}

/**
 * What a damaged stretch looks like, for the warning: a zeroed block when it holds a run of
 * zeroes (a lost disk block or page), otherwise the first problem found in it.
 */
export function describeDamage(b: Uint8Array, start: number, end: number, first: Damage): string {
  let run = 0;
  let best = 0;
  let bestAt = start;
  for (let i = start; i < end; i++) {
    run = b[i] === 0 ? run + 1 : 0;
    if (run > best) {
      best = run;
      bestAt = i - run + 1;
    }
  }
  if (best === end - start && best > 0) return 'zeroed block';
  if (best >= ZEROED_RUN) return `zeroed block (${best} zero bytes from byte ${bestAt})`;
  return first === 'no block starts here' ? 'bytes that are not a block' : first;
}

/** Zero bytes in a row that say a block was zeroed (a disk sector), not damaged otherwise. */
const ZEROED_RUN = 512;

export type SegmentVersion = 1 | 2;

/**
 * The version of a segment from its first bytes. A file shorter than the header that begins
 * like one (or is empty) is a version 2 segment cut while it was made. A damaged header is
 * recognised by the blocks after it.
 */
export function segmentVersion(b: Buffer): { version: SegmentVersion; headerIntact: boolean } {
  const n = Math.min(b.length, SEGMENT_HEADER_BYTES);
  if (b.subarray(0, n).equals(SEGMENT_MAGIC.subarray(0, n)))
    return { version: 2, headerIntact: n === SEGMENT_HEADER_BYTES };
  return { version: nextBlock(b, 0, b.length) >= 0 ? 2 : 1, headerIntact: false };
}
