// What a session does with each batch of ring buffer records: collectors' taps first, then
// JSON lines straight from the records (the native formatter, for `collect -o FILE`) and/or
// decoded Events. Every record is delivered or counted as bad, never both, never neither.
import type { RecordBatch } from '@retrace/ebpf-loader';
import type { Event } from '@retrace/events';
import type { RecordDecoder } from '../decode/record.js';
import type { RecordLines } from '../decode/record-lines.js';

type Tap = (view: DataView, buf: Buffer, at: number, len: number) => boolean;

export interface BatchReaderOptions {
  decoder: RecordDecoder;
  /** JSON lines are wanted: where they go. */
  lines?: RecordLines;
  /** Lines straight from the records (false: the decoded Event's line, written by onDecoded). */
  linesFromRecords: boolean;
  onDecoded?: (ev: Event) => void;
  /** Collectors' taps: a tap that returns true took the record (no event of its own). */
  taps: Tap[];
  onRecords?: (batch: RecordBatch) => void;
  /** Each record that could not be read. */
  onBadRecord: (e: Error) => void;
  /** How many records became events. */
  onDelivered: (n: number) => void;
}

export function batchReader(o: BatchReaderOptions): (batch: RecordBatch) => void {
  const { decoder, lines, onDecoded, taps, onRecords, onBadRecord, onDelivered } = o;
  const fast = o.linesFromRecords ? lines : undefined;
  return (batch) => {
    onRecords?.(batch);
    // Only lines wanted, no taps: the whole batch at once.
    if (fast && !onDecoded && !taps.length) {
      onDelivered(fast.write(batch, 0, batch.count, onBadRecord));
      fast.flush();
      return;
    }
    for (let i = 0; i < batch.count; i++) {
      const at = batch.offset(i);
      const len = batch.length(i);
      try {
        if (taps.some((tap) => tap(batch.view, batch.buffer, at, len))) continue;
        // Without lines, the decoder still reads every record: a bad one is counted as such.
        const ev = onDecoded || !fast ? decoder.decode(batch.view, batch.buffer, at, len) : undefined;
        if (fast) {
          if (!fast.write(batch, i, i + 1, onBadRecord)) continue;
          // Its line out before its event (readers pair them).
          if (onDecoded) fast.flush();
        }
        if (ev && onDecoded) onDecoded(ev);
      } catch (e) {
        onBadRecord(e as Error);
        continue;
      }
      onDelivered(1);
    }
    lines?.flush();
  };
}
