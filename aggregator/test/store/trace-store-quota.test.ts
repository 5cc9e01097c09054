// Space in a trace store: a node that floods a trace cannot evict what the other nodes stored;
// its own newest events are refused and reported. Journeys across nodes are charged per event
// to the node that sent it. A store-wide cap keeps one trace from taking the others' room.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Journey } from '../../src/journeys/index.js';
import { TraceStore } from '../../src/store/index.js';
import { event, podPing, tracking } from '../journeys/packets.js';
import { ids, local, sorted } from './store-journeys.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-store-quota-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const OPTS = { capBytes: 64 * 1024, segmentBytes: 8 * 1024 };

/** Counts what onRefused reports, per trace and node. */
function refusals(): { counts: Map<string, number>; onRefused: (trace: string, node: string, n: number) => void } {
  const counts = new Map<string, number>();
  return {
    counts,
    onRefused: (trace, node, n) => counts.set(`${trace} ${node}`, (counts.get(`${trace} ${node}`) ?? 0) + n),
  };
}

/** An event sent by `sender` that says it comes from `claims` (a forged k8s section). */
function forged(n: number, sender: string, claims: string): Journey {
  const ev = event({ ts: 5n, tracking: tracking(BigInt(n), BigInt(n)), packet: podPing(n), node: claims });
  return { id: `${sender}/${n}`, nodes: [sender], events: [sorted(sender, ev, 0)] };
}

test('a flooding node has its newest events refused; the quiet node keeps all it stored and can still store', () => {
  const r = refusals();
  const store = TraceStore.open(dir, { ...OPTS, onRefused: r.onRefused });
  for (let n = 0; n < 20; n++) store.append('t', local(n, 'node-a'));
  const quiet = ids(store, 't', { node: 'node-a' });
  expect(quiet).toHaveLength(20);
  // node-x sends 3000 events, half of them claiming to come from node-a.
  for (let n = 0; n < 3000; n++) store.append('t', n % 2 ? local(n, 'node-x') : forged(n, 'node-x', 'node-a'));
  expect(ids(store, 't', { node: 'node-a' }).slice(0, 20)).toEqual(quiet);
  expect(store.evicted('t')).toBe(0);
  expect(store.storedBytes('t')).toBeLessThanOrEqual(OPTS.capBytes);
  const refused = store.refused('t');
  expect(refused).toBeGreaterThan(2000);
  expect([...r.counts]).toEqual([['t node-x', refused]]);
  expect(ids(store, 't')).toHaveLength(20 + 3000 - refused);
  const usage = store.nodeUsage('t');
  expect(usage.map((u) => u.node)).toEqual(['node-a', 'node-x']);
  const [a, x] = usage;
  expect(x?.bytes).toBeLessThanOrEqual(x?.share ?? 0);
  expect(x?.share).toBe(OPTS.capBytes / 2);
  expect(x?.refused).toBe(refused);
  expect(a?.refused).toBe(0);
  // node-a is within its share: what it sends now is stored.
  for (let n = 100; n < 120; n++) store.append('t', local(n, 'node-a'));
  expect(store.refused('t')).toBe(refused);
  expect(ids(store, 't')).toContain('node-a/119#0');
  const atClose = store.nodeUsage('t').map((u) => [u.node, u.bytes]);
  store.close();

  // After a restart the accounts are read back from the records: node-x is still full.
  const r2 = refusals();
  const again = TraceStore.open(dir, { ...OPTS, onRefused: r2.onRefused });
  expect(again.nodeUsage('t').map((u) => [u.node, u.bytes])).toEqual(atClose);
  again.append('t', local(5000, 'node-x'));
  expect([...r2.counts]).toEqual([['t node-x', 1]]);
  again.append('t', local(5001, 'node-a'));
  expect(ids(again, 't')).toContain('node-a/5001#0');
  again.close();
});

test("a journey across nodes: the part of the node past its share is refused, the other node's part is stored", () => {
  const r = refusals();
  const store = TraceStore.open(dir, { ...OPTS, onRefused: r.onRefused });
  store.append('t', local(0, 'node-a'));
  for (let n = 1; n < 2000; n++) store.append('t', local(n, 'node-x'));
  const before = store.refused('t');
  expect(before).toBeGreaterThan(0);
  const st = tracking(77n, 77n);
  const j: Journey = {
    id: 'node-a/77',
    nodes: ['node-a', 'node-x'],
    events: [
      sorted('node-a', event({ ts: 1n, tracking: st, packet: podPing(77), node: 'node-a' }), 0),
      sorted('node-x', event({ ts: 2n, tracking: st, packet: podPing(77), node: 'node-x' }), 1),
      sorted('node-a', event({ ts: 3n, tracking: st, packet: podPing(77), node: 'node-a' }), 2),
    ],
  };
  store.append('t', j);
  expect(store.refused('t')).toBe(before + 1);
  const got = [...store.events('t')].filter(({ event: e }) => e.journey?.id === 'node-a/77');
  expect(got.map(({ event: e }) => [e.k8s?.node, e.journey?.idx, e.journey?.nodes])).toEqual([
    ['node-a', 0, 2],
    ['node-a', 2, 2],
  ]);
  store.close();
});

test('a single busy node rolls: its own oldest segments go, nothing is refused', () => {
  const r = refusals();
  const store = TraceStore.open(dir, { capBytes: 16 * 1024, segmentBytes: 4096, onRefused: r.onRefused });
  for (let n = 0; n < 2000; n++) store.append('t', local(n, 'node-a'));
  expect(store.refused('t')).toBe(0);
  expect(r.counts.size).toBe(0);
  expect(store.evicted('t')).toBeGreaterThan(0);
  const kept = ids(store, 't');
  expect(kept.length + store.evicted('t')).toBe(2000);
  expect(kept.at(-1)).toBe('node-a/1999#0');
  expect(store.storedBytes('t')).toBeLessThanOrEqual(16 * 1024);
  store.close();
});

test("the store-wide cap: a trace that reaches it makes room from its own segments, never another trace's", () => {
  const r = refusals();
  const opts = { capBytes: 16 * 1024, segmentBytes: 4096, totalCapBytes: 24 * 1024, onRefused: r.onRefused };
  const store = TraceStore.open(dir, opts);
  for (let n = 0; n < 200; n++) store.append('a', local(n, 'node-a'));
  const a = ids(store, 'a');
  expect(store.refused('a')).toBe(0);
  for (let n = 0; n < 2000; n++) store.append('b', local(n, 'node-b'));
  expect(ids(store, 'a')).toEqual(a);
  expect(store.totalStoredBytes()).toBeLessThanOrEqual(24 * 1024);
  // b's own oldest went instead (one node, past the room left: its own rolling window)
  expect(store.evicted('b')).toBeGreaterThan(0);
  expect(ids(store, 'b').length + store.evicted('b') + store.refused('b')).toBe(2000);
  expect(ids(store, 'b').at(-1)).toBe('node-b/1999#0');
  // Trace a goes on within its own cap, rolling over its own segments.
  for (let n = 200; n < 400; n++) store.append('a', local(n, 'node-a'));
  expect(store.refused('a')).toBe(0);
  expect(ids(store, 'a').at(-1)).toBe('node-a/399#0');
  expect(store.totalStoredBytes()).toBeLessThanOrEqual(24 * 1024);
  store.close();
});

test('at the store-wide cap, a trace whose oldest segment holds a quiet node is refused, and says so', () => {
  const r = refusals();
  const opts = { capBytes: 16 * 1024, segmentBytes: 4096, totalCapBytes: 24 * 1024, onRefused: r.onRefused };
  const store = TraceStore.open(dir, opts);
  for (let n = 0; n < 200; n++) store.append('a', local(n, 'node-a'));
  store.append('b', local(0, 'node-q'));
  for (let n = 1; n < 2000; n++) store.append('b', local(n, 'node-b'));
  expect(ids(store, 'b', { node: 'node-q' })).toEqual(['node-q/0#0']);
  expect(store.evicted('b')).toBe(0);
  expect(store.refused('b')).toBeGreaterThan(0);
  expect([...r.counts]).toEqual([['b node-b', store.refused('b')]]);
  expect(store.totalStoredBytes()).toBeLessThanOrEqual(24 * 1024);
  store.close();
});
