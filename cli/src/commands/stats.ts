// `retrace stats FILE`: versions, time span, events, series, hits per probe, lost.
import { EmptyInputError } from './empty-input.js';
import { collectStats, formatStats, openInput, readEventLines, type Event } from '@retrace/events';

export async function stats(file: string): Promise<number> {
  const events: Event[] = [];
  for await (const { value } of readEventLines(openInput(file)))
    events.push(...(Array.isArray(value) ? value : [value]));
  if (!events.length) throw new EmptyInputError(file);
  process.stdout.write(`${formatStats(collectStats(events))}\n`);
  return 0;
}
