// The bytes of a segment file, and how damage in them is found and stepped over.
//
// A segment starts with an 8-byte header, `RTRCSEG` and the format version (2). Then records,
// each a 16-byte header and its body:
//
//   0  2  magic 0xB7 0x9E         where a record starts: after damage, the next one is found by it
//   2  4  CRC-32 of bytes 6..end  (type, length, sender, sequence and body: a flipped bit anywhere
//                                 but in the magic fails it, and a magic found by chance in damaged
//                                 bytes is taken only if what follows checks)
//   6  1  type                    1: an event (protobuf, with the store's sections); 2: a sender
//   7  3  body length             (little endian; a record is < 16 MiB)
//  10  2  sender                  the node that sent the event, by its number in this segment
//                                 (a type-2 record names number -> node once per segment)
//  12  4  sequence                0, 1, 2... per segment: how many records a damaged stretch held
//  16     body
//
// Version 1 segments (before checksums: no header, records of a varint length and the event) are
// still read, without verification: damage in one stops its reading at the damage, and the rest
// of the file is left as it is. New records always go to a version 2 segment.
import { crc32 } from './crc32.js';

export const SEGMENT_MAGIC = Buffer.from('RTRCSEG\x02', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const RECORD_HEADER_BYTES = 16;
const M0 = 0xb7;
const M1 = 0x9e;
export const RECORD_EVENT = 1;
export const RECORD_SENDER = 2;
export const MAX_RECORD_BYTES = 0xffffff;
/** Senders per segment (the header's 2 bytes). */
export const MAX_SENDERS = 0xffff;

/** A record's header at `at`, its body being `b[at + 16, end)`: checksum last, over all of it. */
export function sealRecord(b: Uint8Array, at: number, type: number, end: number, sender: number, seq: number): void {
  const len = end - at - RECORD_HEADER_BYTES;
  b[at] = M0;
  b[at + 1] = M1;
  b[at + 6] = type;
  b[at + 7] = len & 0xff;
  b[at + 8] = (len >>> 8) & 0xff;
  b[at + 9] = (len >>> 16) & 0xff;
  b[at + 10] = sender & 0xff;
  b[at + 11] = sender >>> 8;
  putU32(b, at + 12, seq);
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

export interface RecordHead {
  type: number;
  sender: number;
  seq: number;
  /** Where the header starts, where the body starts and ends. */
  at: number;
  start: number;
  end: number;
}

/** Why the bytes at a place are not a record. */
export type Damage = 'no record starts here' | 'record cut short' | 'checksum mismatch';

/** The record at `at` (bytes up to `end`), checked, or why there is none. */
export function readRecord(b: Uint8Array, at: number, end: number): RecordHead | Damage {
  if (end - at < RECORD_HEADER_BYTES)
    return b[at] === M0 && (at + 1 >= end || b[at + 1] === M1) ? 'record cut short' : 'no record starts here';
  if (b[at] !== M0 || b[at + 1] !== M1) return 'no record starts here';
  const len = (b[at + 7] as number) | ((b[at + 8] as number) << 8) | ((b[at + 9] as number) << 16);
  const start = at + RECORD_HEADER_BYTES;
  if (start + len > end) return 'record cut short';
  if (crc32(b, at + 6, start + len) !== u32(b, at + 2)) return 'checksum mismatch';
  return {
    type: b[at + 6] as number,
    sender: (b[at + 10] as number) | ((b[at + 11] as number) << 8),
    seq: u32(b, at + 12),
    at,
    start,
    end: start + len,
  };
}

/** Whether the record whose body is `b[start, end)` still has the checksum it was written with. */
export function recordIntact(b: Uint8Array, start: number, end: number): boolean {
  const at = start - RECORD_HEADER_BYTES;
  if (at < 0 || end > b.length || b[at] !== M0 || b[at + 1] !== M1) return false;
  const len = (b[at + 7] as number) | ((b[at + 8] as number) << 8) | ((b[at + 9] as number) << 16);
  return len === end - start && crc32(b, at + 6, end) === u32(b, at + 2);
}

/** The first place from `from` on where a record that checks starts; -1 when none. */
export function nextRecord(b: Buffer, from: number, end: number): number {
  for (let p = b.indexOf(M0, from); p >= 0 && p < end; p = b.indexOf(M0, p + 1))
    if (b[p + 1] === M1 && typeof readRecord(b, p, end) !== 'string') return p;
  return -1;
}

/** What a damaged stretch looks like, for the warning: zeroed, or the first problem found in it. */
export function describeDamage(b: Uint8Array, start: number, end: number, first: Damage): string {
  let zero = true;
  for (let i = start; i < end && zero; i++) zero = b[i] === 0;
  if (zero) return 'zeroed block';
  return first === 'no record starts here' ? 'bytes that are not a record' : first;
}

export type SegmentVersion = 1 | 2;

/**
 * The version of a segment from its first bytes. A file shorter than the header that begins
 * like one (or is empty) is a version 2 segment cut while it was made. A damaged header is
 * recognised by the records after it.
 */
export function segmentVersion(b: Buffer): { version: SegmentVersion; headerIntact: boolean } {
  const n = Math.min(b.length, SEGMENT_HEADER_BYTES);
  if (b.subarray(0, n).equals(SEGMENT_MAGIC.subarray(0, n)))
    return { version: 2, headerIntact: n === SEGMENT_HEADER_BYTES };
  return { version: nextRecord(b, 0, b.length) >= 0 ? 2 : 1, headerIntact: false };
}

/** A version 1 record's length prefix at `pos`: [length, body start], or undefined when cut. */
export function readVarint(b: Uint8Array, pos: number, end: number): [number, number] | undefined {
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
