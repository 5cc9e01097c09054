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
import { refuseOverwrite } from '../output/same-file.js';
import { EmptyInputError } from './empty-input.js';
import type { EventsInput } from './input.js';

export interface SortOptions {
  out?: string;
  maxBuffer: number;
  print?: boolean;
}

export async function sort(from: EventsInput, opts: SortOptions, fmt: FormatOptions): Promise<number> {
  const printing = !opts.out || !!opts.print;
  refuseOverwrite('-o', opts.out, from.files);
  if (printing && opts.out !== '-') refuseOverwrite('-o', '-', from.files);
  const input = openInput(from.spec);
  const sorter = new EventSorter({ maxBuffer: opts.maxBuffer });
  // A failed write does not stop the sort: the rest is counted, so the error says what was lost.
  const file_ = opts.out ? new LineWriter(opts.out, { unit: 'series', onError: () => {} }) : undefined;
  const printer = printing ? new LineWriter(opts.out === '-' ? '/dev/stderr' : '-') : undefined;
  let events = 0;
  const emit = (series: Event[][]): void => {
    for (const s of series) {
      file_?.line(stringifyEvent(s), s.length);
      if (printer) {
        const first = s[0];
        printer.line(s.length === 1 && first ? formatEvent(first, fmt) : formatSeries(s, fmt));
        if (fmt.format !== 'single-line') printer.line('');
      }
    }
  };
  try {
    for await (const { value } of readEventLines(input)) {
      for (const ev of Array.isArray(value) ? value : [value]) {
        events++;
        const offset = ev.startup?.clock_monotonic_offset;
        if (offset && !fmt.clockOffset) fmt.clockOffset = offset;
        emit(sorter.push(ev));
      }
    }
    emit(sorter.flush());
  } finally {
    try {
      file_?.close();
    } finally {
      printer?.close();
    }
  }
  if (!events) throw new EmptyInputError(from.name);
  return 0;
}
