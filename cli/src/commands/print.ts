// `retrace print FILE`: events (or sorted series) as text, like collect prints them.
import { formatEvent, formatSeries, openInput, readEventLines, type FormatOptions } from '@retrace/events';
import { LineWriter } from '../output/line-writer.js';

export async function print(file: string, fmt: FormatOptions): Promise<number> {
  const out = new LineWriter('-');
  try {
    for await (const { value } of readEventLines(openInput(file))) {
      if (Array.isArray(value)) out.line(formatSeries(value, fmt));
      else {
        const offset = value.startup?.clock_monotonic_offset;
        if (offset && !fmt.clockOffset) fmt.clockOffset = offset;
        out.line(formatEvent(value, fmt));
      }
      if (fmt.format !== 'single-line') out.line('');
    }
  } finally {
    out.close();
  }
  return 0;
}
