// How fast the trace store takes journeys in (append, the aggregator's hot path), next to the
// cheapest way to put the same bytes on disk: one write of them all, measured in the same run so
// that the ratio means something on any machine. The journeys are the sort bench's synthetic
// trace (8 events per ping across 2 of 4 nodes), sorted beforehand: only the store is timed.
// `npm run build`, then `node operator/dist/aggregator/bench-store.js [events] [rounds]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '@retrace/events';
import { syntheticClock, syntheticTrace } from './synthetic-trace.js';
import { JourneySorter } from './journey-sorter.js';
import { SortKeyReader } from './sort-keys.js';
import { SortedEvent, type Journey } from './sorted-event.js';
import { TraceStore } from '../store/index.js';

export interface StoreBenchResult {
  events: number;
  /** Bytes the store wrote for them. */
  bytes: number;
  /** Events through append (and close, which writes what is left) per second. */
  eventsPerSec: number;
  /** The same number of bytes through one writeFileSync, as events per second. */
  baselineEventsPerSec: number;
}

/** The synthetic trace's `n` events as the sorter releases them: journeys, ready to append. */
export function syntheticJourneys(n: number): Journey[] {
  const out: Journey[] = [];
  const sorter = new JourneySorter({ clock: syntheticClock(), onJourney: (j) => out.push(j) });
  const keys = new SortKeyReader();
  for (const chunk of syntheticTrace(n))
    for (const { node, event } of chunk) sorter.push(new SortedEvent(node, encodeMessage('Event', event), keys));
  sorter.flush();
  return out;
}

export function benchStore(n: number, rounds = 3): StoreBenchResult {
  const journeys = syntheticJourneys(n);
  const events = journeys.reduce((s, j) => s + j.events.length, 0);
  const root = mkdtempSync(join(tmpdir(), 'retrace-bench-store-'));
  try {
    let bytes = 0;
    let storeNs = -1n;
    for (let r = 0; r < rounds; r++) {
      const dir = join(root, `store-${r}`);
      const t0 = process.hrtime.bigint();
      const store = TraceStore.open(dir, { capBytes: 1 << 30 });
      for (const j of journeys) store.append('bench', j);
      bytes = store.storedBytes('bench');
      if (store.refused('bench') > 0) throw new Error(`bench: ${store.refused('bench')} events refused by the store`);
      store.close();
      const ns = process.hrtime.bigint() - t0;
      if (storeNs < 0n || ns < storeNs) storeNs = ns;
      rmSync(dir, { recursive: true, force: true });
    }
    const blob = Buffer.alloc(bytes, 0x5a);
    let baselineNs = -1n;
    for (let r = 0; r < rounds; r++) {
      const file = join(root, `blob-${r}`);
      const t0 = process.hrtime.bigint();
      writeFileSync(file, blob);
      const ns = process.hrtime.bigint() - t0;
      if (baselineNs < 0n || ns < baselineNs) baselineNs = ns;
      rmSync(file, { force: true });
    }
    const perSec = (ns: bigint): number => (events * 1e9) / Math.max(1, Number(ns));
    return { events, bytes, eventsPerSec: perSec(storeNs), baselineEventsPerSec: perSec(baselineNs) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// `node operator/dist/aggregator/bench-store.js [events] [rounds]`
if (process.argv[1]?.endsWith('bench-store.js')) {
  const r = benchStore(Number(process.argv[2] ?? 1_000_000), Number(process.argv[3] ?? 5));
  console.log(
    `${r.events} events (${(r.bytes / 2 ** 20).toFixed(1)} MiB) into the trace store: ` +
      `${Math.round(r.eventsPerSec).toLocaleString('en')} events/s; one writeFileSync of as many bytes: ` +
      `${Math.round(r.baselineEventsPerSec).toLocaleString('en')} events/s ` +
      `(ratio ${(r.eventsPerSec / r.baselineEventsPerSec).toFixed(2)})`,
  );
}
