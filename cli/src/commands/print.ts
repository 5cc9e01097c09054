// `retrace print FILE`: events (or sorted series) as text, like collect prints them.
import { formatEvent, formatSeries, openInput, readEventLines, type FormatOptions } from '@retrace/events';
import { LineWriter } from '../output/line-writer.js';
import { refuseOverwrite } from '../output/same-file.js';
import { EmptyInputError } from './empty-input.js';
import type { EventsInput } from './input.js';

export async function print(from: EventsInput, fmt: FormatOptions): Promise<number> {
  refuseOverwrite('-o', '-', from.files);
  const input = openInput(from.spec);
  const out = new LineWriter('-');
  let events = 0;
  try {
    for await (const { value } of readEventLines(input)) {
      if (Array.isArray(value)) {
        events += value.length;
        out.line(formatSeries(value, fmt));
      } else {
        events++;
        const offset = value.startup?.clock_monotonic_offset;
        if (offset && !fmt.clockOffset) fmt.clockOffset = offset;
        out.line(formatEvent(value, fmt));
      }
      if (fmt.format !== 'single-line') out.line('');
    }
  } finally {
    out.close();
  }
  if (!events) throw new EmptyInputError(from.name);
  return 0;
}
