// Reading a segment file back on open, into its index. Damage is skipped and reported, every
// record after it kept: a block that fails its checksum, a zeroed block or stray bytes are
// stepped over to the next block that checks; only the end of the last segment, where no block
// follows, is cut off (a crash while writing), and a header cut while the segment was made is
// written again. Nothing else in the file is changed.
import { readFileSync } from 'node:fs';
import { ProtoDecodeError, ProtoReader } from '@retrace/events';
import { truncateDurably, writeAtDurably } from './durable-fs.js';
import type { FileWarning } from './errors.js';
import type { Segment } from './segment.js';
import { SortKeyReader } from '../journeys/sort-keys.js';
import { recordFields, type RecordFields } from './segment-index.js';
import {
  BLOCK_RECORDS,
  BLOCK_SENDER,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  describeDamage,
  nextBlock,
  readBlock,
  segmentVersion,
} from './segment-format.js';

/** Where a scan puts what it finds. */
export interface ScanSink {
  warn(w: FileWarning): void;
  /** A stored record: its block, where its body starts, its size, its index fields. */
  record(block: number, offset: number, size: number, f: RecordFields): void;
  /** Bytes of the segment on a sender's account. */
  charge(node: string, bytes: number): void;
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Indexes a segment file's records (`last`: the trace's last segment, the one a crash may have
 * cut), setting its version, size and whether records may be appended to it.
 */
export function scanSegment(seg: Segment, last: boolean, sink: ScanSink): void {
  let buf = readFileSync(seg.path);
  const keys = new SortKeyReader();
  const { version, headerIntact } = segmentVersion(buf);
  seg.version = version;
  if (version === 1) {
    scanVersion1(seg, buf, sink, keys);
    return;
  }
  let pos = SEGMENT_HEADER_BYTES;
  seg.appendable = last && headerIntact;
  if (!headerIntact) {
    if (buf.length < SEGMENT_HEADER_BYTES) {
      // cut while it was created: nothing in it yet
      if (last) {
        if (buf.length > 0)
          sink.warn({
            offset: 0,
            bytes: buf.length,
            message: 'segment header cut short (a crash as the segment was made): written again',
          });
        writeAtDurably(seg.path, SEGMENT_MAGIC, SEGMENT_MAGIC.length, 0);
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
    sink.warn({
      offset: 0,
      bytes: pos,
      ...(records !== undefined ? { records } : {}),
      message:
        `segment header damaged (${describeDamage(buf, 0, pos, 'no block starts here')}): ${pos} bytes skipped` +
        `${records !== undefined ? `, ${plural(records, 'record')} lost` : ''}; ` +
        'the records after them are read, and new ones go to a new segment',
    });
  }
  const lengths = new ProtoReader(buf, 'segment record');
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
        const lost = records !== undefined ? `, ${plural(records, 'record')} lost` : '';
        sink.warn({
          offset: pos,
          bytes: to - pos,
          ...(records !== undefined ? { records } : {}),
          message: `${what}: ${to - pos} bytes skipped${lost}; the records after them are kept`,
        });
        pos = next;
        continue;
      }
      if (last) {
        sink.warn({
          offset: pos,
          bytes: end - pos,
          message:
            `${what} at the end of the last segment (a crash while writing?): the last ${end - pos} bytes, ` +
            `with no record after them, cut off (the file now ends at ${pos}); the records before are kept`,
        });
        truncateDurably(seg.path, pos);
        end = pos;
      } else {
        sink.warn({
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
      sink.charge(name, r.end - r.at);
      continue;
    }
    expect = r.first;
    if (r.type !== BLOCK_RECORDS) {
      sink.warn({
        offset: r.at,
        bytes: r.end - r.at,
        message: `block of unknown type ${r.type} (a newer retrace?): skipped`,
      });
      continue;
    }
    // Its records: sender, length, event.
    for (let p = r.start; p < r.end;) {
      const len = p + 2 < r.end ? recordLength(lengths, p + 2, r.end) : undefined;
      if (len === undefined) {
        sink.warn({
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
      const f = recordFields(keys, buf, start, start + size);
      if (f === undefined) {
        sink.warn({
          offset: start,
          bytes: size,
          records: 1,
          message: 'record is not a valid event (its checksum holds: written so), skipped',
        });
        continue;
      }
      sink.record(r.at, start, size, f);
      let sender = seg.senders[sid];
      if (sender === undefined) {
        // the block naming it was damaged: charged to the node the event names
        unknownSender = true;
        sender = f.node;
      }
      sink.charge(sender, charged);
    }
    seg.nextRecord = Math.max(seg.nextRecord, expect);
  }
  if (unknownSender)
    sink.warn({
      offset: 0,
      message: "some events' sender is not named (its block was damaged): charged to the node each event names",
    });
  seg.bytes = seg.written = end;
}

/** A version 1 segment (no checksums): read up to the first damage, never changed. */
function scanVersion1(seg: Segment, buf: Buffer, sink: ScanSink, keys: SortKeyReader): void {
  const lengths = new ProtoReader(buf, 'segment record');
  let pos = 0;
  while (pos < buf.length) {
    const len = recordLength(lengths, pos, buf.length);
    // Records are never empty: a zero length is zeroed bytes.
    if (len === undefined || len[0] === 0) {
      sink.warn({
        offset: pos,
        bytes: buf.length - pos,
        message:
          `record cut short or damaged in a version 1 segment (no checksums, so nothing after it can be ` +
          `found): the last ${buf.length - pos} bytes are left in the file, unread`,
      });
      break;
    }
    const [size, start] = len;
    const f = recordFields(keys, buf, start, start + size);
    if (f === undefined)
      sink.warn({
        offset: pos,
        bytes: start + size - pos,
        records: 1,
        message: 'record is not a valid event, skipped',
      });
    else {
      sink.record(0, start, size, f);
      sink.charge(f.node, start + size - pos);
    }
    pos = start + size;
  }
  seg.bytes = seg.written = buf.length;
}

/**
 * A record's length (a varint) at `pos` and where the record starts, when both the length and
 * the record fit before `end`; undefined otherwise.
 */
function recordLength(r: ProtoReader, pos: number, end: number): [number, number] | undefined {
  r.pos = pos;
  r.len = end;
  let size: number;
  try {
    size = r.uint32();
  } catch (e) {
    // The runtime's reader says a cut or overlong varint with a RangeError or a plain Error.
    if (e instanceof ProtoDecodeError || e instanceof RangeError || (e instanceof Error && /varint/.test(e.message)))
      return undefined;
    throw e;
  }
  return r.pos + size > end ? undefined : [size, r.pos];
}
