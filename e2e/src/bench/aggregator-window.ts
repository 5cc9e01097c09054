// A child of the cluster-pipeline benchmark: the aggregator's memory per event held in its
// ordering window, in a process of its own (the benchmark's has its baseline and sort bench in
// its heap). One trace, 4 nodes, a lateness of an hour so that only the window's bound
// (--max-buffered, maxBufferedEvents) releases anything; batches come as the agent link hands
// them over (decoded by the link's own deserializer: each event a view into its batch's bytes).
// RSS is read after a full GC at several fillings of the window (the slope is the cost per event
// in flight), then again after twice and four times the window's worth more has gone through it
// (bounded: the window releases its oldest journeys to the store). Sends {points, full, after} to the parent
// (or prints it, run alone).
// Arguments: the window's size (events).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentMessage, Event } from '@retrace/events';
import { encodeMessage } from '@retrace/events';
import { AgentLinkService, PROTOCOL_VERSION } from '@retrace/wire';
import { Aggregator, SYNTHETIC_NODES, syntheticTrace, type AgentStream } from '@retrace/aggregator';
import { BENCH_TRACE } from './bench-trace.js';

const WINDOW = Number(process.argv[2] ?? 400_000);
const BATCH = 1024;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const deserialize = (AgentLinkService['Connect'] as { requestDeserialize: (b: Buffer) => AgentMessage })
  .requestDeserialize;

const dir = mkdtempSync(join(tmpdir(), 'retrace-bench-window-'));
const agg = new Aggregator({
  storeDir: dir,
  latenessMs: 3_600_000,
  maxBufferedEvents: WINDOW,
  storeCapBytes: 8 * 1024 ** 3,
  log: () => undefined,
});
agg.setTraces([BENCH_TRACE]);
const streams = new Map<string, AgentStream & { seq: bigint }>();
for (let i = 0; i < SYNTHETIC_NODES; i++) {
  const node = `node-${i}`;
  const register = {
    protocol: PROTOCOL_VERSION,
    node,
    kernel_release: 'bench',
    version: 'bench',
    incarnation: `bench-${i}`,
    boot_offset: { sec: 1_700_000_000n, nsec: 0n },
  };
  const s = { node, incarnation: register.incarnation, register, connectedAt: Date.now(), seq: 0n };
  streams.set(node, s);
  agg.onRegister(s, undefined);
}

/** Hands a node's events to the aggregator as the link does: one batch, its events views of its bytes. */
function feed(node: string, events: Event[]): void {
  const s = streams.get(node) as AgentStream & { seq: bigint };
  s.seq++;
  const m = deserialize(encodeMessage('AgentMessage', { batch: { trace: 'bench', seq: s.seq, events } }));
  const b = m.batch;
  if (!b) throw new Error('no batch');
  agg.onBatch(s, 'bench', b.seq, b.events as unknown as Uint8Array[], [], []);
}

const buffered = (): number => agg.sorterStats('bench')?.buffered ?? 0;
async function settledRss(): Promise<number> {
  await new Promise((r) => setTimeout(r, 300)); // the store's pending writes go out on its tick
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage.rss();
}

const trace = syntheticTrace(Number.MAX_SAFE_INTEGER);
let fed = 0;
/** Feeds the trace until `stop` says so, letting the aggregator's timers run between batch periods. */
async function feedUntil(stop: () => boolean): Promise<void> {
  while (!stop()) {
    await new Promise((r) => setImmediate(r));
    const chunk = trace.next().value as { node: string; event: Event }[];
    const byNode = new Map<string, Event[]>();
    for (const { node, event } of chunk) {
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push(event);
      if (list.length === BATCH) {
        feed(node, list);
        byNode.set(node, []);
      }
      fed++;
    }
    for (const [node, list] of byNode) if (list.length) feed(node, list);
  }
}

async function main(): Promise<void> {
  const points: { events: number; rss: number }[] = [];
  for (const share of [1 / 8, 1 / 4, 1 / 2, 3 / 4, 1]) {
    await feedUntil(() => buffered() >= share * WINDOW * 0.98);
    points.push({ events: buffered(), rss: await settledRss() });
  }
  const full = { events: buffered(), rss: (points[points.length - 1] as { rss: number }).rss };
  // Twice the window's worth through it, then as much again: what stays after the first round
  // (the store's index, the released series remembered for late events) is not the window's.
  const after: { events: number; through: number; rss: number }[] = [];
  const before = fed;
  for (const round of [1, 2]) {
    await feedUntil(() => fed - before >= 2 * round * WINDOW);
    after.push({ events: buffered(), through: fed - before, rss: await settledRss() });
  }
  agg.close();
  rmSync(dir, { recursive: true, force: true });
  const report = { points, full, after };
  if (process.send) process.send(report);
  else console.log(JSON.stringify(report));
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
