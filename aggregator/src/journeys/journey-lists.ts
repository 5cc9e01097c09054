// An open journey's lists: its series (through SeriesTable.nextInJourney) and its events (through
// the event window's `next`), in the order they joined; merging two journeys appends one's lists
// to the other's.
import type { EventWindow } from './event-window.js';
import { MERGED, type JourneyTable } from './journey-table.js';
import type { SeriesTable } from './series-table.js';

/** Series `s` joins open journey `j` (the caller holds it for the journey). */
export function joinSeries(jt: JourneyTable, st: SeriesTable, j: number, s: number): void {
  st.journey[s] = j;
  st.nextInJourney[s] = -1;
  const tail = jt.seriesTail[j] as number;
  if (tail < 0) jt.seriesHead[j] = s;
  else st.nextInJourney[tail] = s;
  jt.seriesTail[j] = s;
  jt.seriesCount[j] = (jt.seriesCount[j] as number) + 1;
}

/**
 * Two open journeys are one packet: the smaller's series and events go to the end of the
 * larger's lists (their holds go with them), and it is marked merged. Returns the smaller (the
 * caller lets go of it as open).
 */
export function mergeJourneys(jt: JourneyTable, st: SeriesTable, w: EventWindow, a: number, b: number): number {
  const [into, from] = (jt.count[a] as number) >= (jt.count[b] as number) ? [a, b] : [b, a];
  for (let s = jt.seriesHead[from] as number; s >= 0; s = st.nextInJourney[s] as number) st.journey[s] = into;
  if ((jt.seriesHead[from] as number) >= 0) {
    const tail = jt.seriesTail[into] as number;
    if (tail < 0) jt.seriesHead[into] = jt.seriesHead[from] as number;
    else st.nextInJourney[tail] = jt.seriesHead[from] as number;
    jt.seriesTail[into] = jt.seriesTail[from] as number;
    jt.seriesCount[into] = (jt.seriesCount[into] as number) + (jt.seriesCount[from] as number);
  }
  if ((jt.head[from] as number) >= 0) {
    const tail = jt.tail[into] as number;
    if (tail < 0) jt.head[into] = jt.head[from] as number;
    else w.next[tail] = jt.head[from] as number;
    jt.tail[into] = jt.tail[from] as number;
    jt.last[into] = jt.last[from] as number;
    jt.count[into] = (jt.count[into] as number) + (jt.count[from] as number);
  }
  if ((jt.latest[from] as number) > (jt.latest[into] as number)) jt.latest[into] = jt.latest[from] as number;
  jt.sorted[into] = 0;
  if (jt.clockVersion[from] !== jt.clockVersion[into]) jt.clockVersion[into] = -1; // recompute times on release
  jt.state[from] = MERGED;
  jt.head[from] = jt.tail[from] = jt.seriesHead[from] = jt.seriesTail[from] = -1;
  jt.count[from] = jt.seriesCount[from] = 0;
  return from;
}
