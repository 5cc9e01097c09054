// How fast the journey sorter is, next to the simplest sort of the same events: Array.prototype.sort
// by timestamp (which neither groups, stitches nor bounds memory), measured in the same run so
// that the ratio means something on any machine. The events: synthetic-trace.ts.
import { encodeMessage, type Event } from '@retrace/events';
import { JourneySorter } from './journey-sorter.js';
import { syntheticClock, syntheticTrace } from './synthetic-trace.js';

export interface SortBenchResult {
  events: number;
  journeys: number;
  stitched: number;
  /**
   * Events through JourneySorter (keys read from their bytes, ordered, stitched, released) per
   * second, once its tables have grown (after the first fifth of the trace).
   */
  eventsPerSec: number;
  /** Events through Array.prototype.sort by timestamp per second, same events. */
  baselineEventsPerSec: number;
}

/**
 * Sorts `n` synthetic events both ways, `rounds` times each, and reports the best rate of each
 * (the first round of each warms the JIT up; on a shared machine the best is the least disturbed).
 */
export function benchSort(n: number, rounds = 3): SortBenchResult {
  // Baseline: every event in one array, in arrival order, sorted by timestamp.
  let arrival: Event[] = [];
  for (const chunk of syntheticTrace(n)) for (const item of chunk) arrival.push(item.event);
  const byTimestamp = (a: Event, b: Event): number => {
    const x = a.common?.timestamp ?? 0n;
    const y = b.common?.timestamp ?? 0n;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  let baselineNs = -1n;
  for (let r = 0; r < rounds; r++) {
    const events = arrival.slice();
    const t0 = process.hrtime.bigint();
    events.sort(byTimestamp);
    const ns = process.hrtime.bigint() - t0;
    if (baselineNs < 0n || ns < baselineNs) baselineNs = ns;
  }
  const count = arrival.length;
  arrival = [];
  (globalThis as { gc?: () => void }).gc?.();

  // The sorter, fed a chunk at a time as an aggregator is, each chunk's events in one buffer (as
  // the agent link receives a batch; made beforehand); only its own time is counted.
  const batches = [...syntheticTrace(n)].map((chunk) => {
    const encoded = chunk.map(({ event }) => encodeMessage('Event', event));
    const at = new Int32Array(encoded.length + 1);
    for (let i = 0; i < encoded.length; i++) at[i + 1] = (at[i] as number) + (encoded[i] as Buffer).length;
    return { buf: Buffer.concat(encoded), at, nodes: chunk.map((e) => e.node) };
  });
  (globalThis as { gc?: () => void }).gc?.();
  let sorterNs = -1n;
  let timed = 0;
  let journeys = 0;
  let stitched = 0;
  for (let r = 0; r < rounds; r++) {
    let out = 0;
    journeys = 0;
    const sorter = new JourneySorter({
      clock: syntheticClock(),
      onJourney: (j) => {
        journeys++;
        out += j.events.length;
      },
    });
    let ns = 0n;
    let fed = 0;
    timed = 0;
    for (const b of batches) {
      // The first fifth is not timed: it grows the sorter's tables to the size they keep in a
      // running aggregator (which runs for days), as the first round warms the JIT up.
      const warm = fed < count / 5;
      const t = process.hrtime.bigint();
      for (let i = 0; i < b.nodes.length; i++)
        sorter.pushRange(b.nodes[i] as string, b.buf, b.at[i] as number, b.at[i + 1] as number, undefined, 0);
      sorter.endBatch();
      fed += b.nodes.length;
      if (warm) continue;
      ns += process.hrtime.bigint() - t;
      timed += b.nodes.length;
    }
    const t = process.hrtime.bigint();
    sorter.flush();
    ns += process.hrtime.bigint() - t;
    if (out !== count) throw new Error(`bench: ${count} events in, ${out} out`);
    stitched = sorter.stats().stitched;
    if (sorterNs < 0n || ns < sorterNs) sorterNs = ns;
  }
  const perSec = (events: number, ns: bigint): number => (events * 1e9) / Math.max(1, Number(ns));
  return {
    events: count,
    journeys,
    stitched,
    eventsPerSec: perSec(timed, sorterNs),
    baselineEventsPerSec: perSec(count, baselineNs),
  };
}

// `node operator/dist/aggregator/bench-sort.js [events] [rounds]`
if (process.argv[1]?.endsWith('bench-sort.js')) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const r = benchSort(n, Number(process.argv[3] ?? 3));
  console.log(
    `${r.events} events, ${r.journeys} journeys (${r.stitched} stitched): ` +
      `sorter ${Math.round(r.eventsPerSec).toLocaleString('en')} events/s, ` +
      `Array.prototype.sort ${Math.round(r.baselineEventsPerSec).toLocaleString('en')} events/s ` +
      `(ratio ${(r.eventsPerSec / r.baselineEventsPerSec).toFixed(2)})`,
  );
}
