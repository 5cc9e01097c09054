// `retrace sort FILE`: group events into per-packet series (retis's algorithm), then write
// them (one JSON array per line) or print them.
import {
  EventSorter,
  formatEvent,
  formatSeries,
  openInput,
  readEventLines,
  stringifyEvent,
  type Event,
  type FormatOptions,
} from '@retrace/events';
import { LineWriter } from '../output/line-writer.js';

export interface SortOptions {
  out?: string;
  maxBuffer: number;
  print?: boolean;
}

export async function sort(file: string, opts: SortOptions, fmt: FormatOptions): Promise<number> {
  const sorter = new EventSorter({ maxBuffer: opts.maxBuffer });
  const file_ = opts.out ? new LineWriter(opts.out) : undefined;
  const printer = !opts.out || opts.print ? new LineWriter(opts.out === '-' ? '/dev/stderr' : '-') : undefined;
  const emit = (series: Event[][]): void => {
    for (const s of series) {
      file_?.line(stringifyEvent(s));
      if (printer) {
        const first = s[0];
        printer.line(s.length === 1 && first ? formatEvent(first, fmt) : formatSeries(s, fmt));
        if (fmt.format !== 'single-line') printer.line('');
      }
    }
  };
  try {
    for await (const { value } of readEventLines(openInput(file))) {
      for (const ev of Array.isArray(value) ? value : [value]) {
        const offset = ev.startup?.clock_monotonic_offset;
        if (offset && !fmt.clockOffset) fmt.clockOffset = offset;
        emit(sorter.push(ev));
      }
    }
    emit(sorter.flush());
  } finally {
    file_?.close();
    printer?.close();
  }
  return 0;
}
