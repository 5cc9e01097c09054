// A checkpoint's fsyncs run off the event loop, and it acknowledges what was stored when it began:
// a batch stored while the disk syncs waits for the next checkpoint, the checkpoint file says what
// it began with, and closing meanwhile makes a checkpoint of its own, the one in flight adding
// nothing after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '@retrace/events';
import { Aggregator } from '../../src/server/aggregator.js';
import type { AgentStream } from '../../src/server/agent-link-server.js';
import { readCheckpoint } from '../../src/server/checkpoint.js';
import { agentStream, traceSpec } from './agent-streams.js';

const spec = traceSpec('t');

const stream = (node: string): AgentStream => agentStream(node, { sec: 1_700_000_000n, nsec: 0n });

const events = (n: number, t0: number): Uint8Array[] =>
  Array.from({ length: n }, (_, i) =>
    encodeMessage('Event', {
      common: { timestamp: BigInt(t0 + i * 1000) },
      'skb-tracking': { orig_head: BigInt(0x1000 + i), timestamp: BigInt(t0 + i * 1000), skb: 1n },
    }),
  );

let dir: string;
let agg: Aggregator;
let acks: [string, bigint][];
let closed: boolean;
beforeEach(() => {
  closed = false;
  dir = mkdtempSync(join(tmpdir(), 'retrace-checkpoint-acks-'));
  // Checkpoints only when the test asks (a tick would make one every checkpointMs).
  agg = new Aggregator({ storeDir: dir, log: () => undefined, latenessMs: 0, checkpointMs: 3_600_000 });
  agg.setTraces([spec]);
  acks = [];
  agg.link.ack = (node: string, _incarnation: string, _trace: string, seq: bigint) => void acks.push([node, seq]);
});
afterEach(() => {
  if (!closed) agg.close();
  rmSync(dir, { recursive: true, force: true });
});

const checkpoint = (): void => (agg as unknown as { checkpoint(): void }).checkpoint();
/** `n` events from `node` as batch `seq`. */
function receive(node: string, seq: bigint, n: number): void {
  const s = stream(node);
  agg.onRegister(s, undefined);
  agg.onBatch(s, 't', seq, events(n, 1_000_000 + Number(seq) * 1_000_000), [], []);
}
/** The node says it is done: its events are released, and stored. */
const done = (node: string): void => agg.onComplete(stream(node), { trace: 't', reason: 'done' } as never);
const until = async (what: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
};

test('what is stored while a checkpoint syncs is acknowledged by the next one', async () => {
  receive('node-a', 1n, 5);
  done('node-a');
  receive('node-b', 1n, 3);
  checkpoint(); // began: node-a's batch is stored, node-b's not wholly yet
  done('node-b');
  expect(acks).toEqual([]); // nothing before the sync is done
  checkpoint(); // one at a time: nothing more begins
  await until(() => acks.length > 0);
  expect(acks).toEqual([['node-a', 1n]]);
  // The checkpoint says what it began with: node-b's batch not stored, so fed again after a restart.
  const cp = readCheckpoint(dir);
  const ledger = Object.fromEntries((cp?.ledger ?? []).map((e) => [e.node, e]));
  expect(ledger['node-a']).toMatchObject({ acked: '1', unstored: {} });
  // (the watermark let its first events go as they came; its last was still waiting)
  expect(ledger['node-b']).toMatchObject({ acked: '0', counted: '1', unstored: { 1: [2] } });
  expect(cp?.extents['t']?.[0]?.bytes).toBeGreaterThan(0);
  checkpoint();
  await until(() => acks.length > 1);
  expect(acks).toEqual([
    ['node-a', 1n],
    ['node-b', 1n],
  ]);
  const next = readCheckpoint(dir);
  expect(next?.ledger.map((e) => [e.node, e.acked, e.unstored])).toEqual([
    ['node-a', '1', {}],
    ['node-b', '1', {}],
  ]);
  expect(next?.extents['t']?.[0]?.bytes).toBeGreaterThan(cp?.extents['t']?.[0]?.bytes ?? 0);
});

test('closing while a checkpoint syncs: its own checkpoint has everything, the one in flight adds nothing', async () => {
  receive('node-a', 1n, 5);
  done('node-a');
  receive('node-b', 1n, 3);
  checkpoint();
  done('node-b');
  agg.close();
  closed = true;
  expect(acks).toEqual([
    ['node-a', 1n],
    ['node-b', 1n],
  ]);
  const written = readCheckpoint(dir);
  await new Promise((r) => setTimeout(r, 200)); // the first checkpoint's fsyncs are done by now
  expect(acks).toHaveLength(2);
  expect(readCheckpoint(dir)).toEqual(written);
  expect(written?.ledger.map((e) => e.acked)).toEqual(['1', '1']);
});
