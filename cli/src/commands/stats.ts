// `retrace stats [FILE]`: per file (each file of a rotated set), the versions, the events and
// series, the time span and the hits per probe, with retis's labels.
import { StatsCollector, formatStats, openInput, readEventLines } from '@retrace/events';
import { refuseOverwrite } from '../output/same-file.js';
import { EmptyInputError } from './empty-input.js';
import type { EventsInput } from './input.js';

export async function stats(from: EventsInput): Promise<number> {
  // `retrace stats x >> x` would append text to the events file.
  refuseOverwrite('-o', '-', from.files);
  const c = new StatsCollector();
  let lines = 0;
  for await (const { value } of readEventLines(openInput(from.spec))) {
    lines++;
    c.add(value);
  }
  if (!lines) throw new EmptyInputError(from.name);
  process.stdout.write(`${formatStats(c.result())}\n`);
  return 0;
}
