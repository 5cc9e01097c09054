#!/usr/bin/env node
// Micro-benchmark of the protobuf code on the paths that matter, per event of the cluster
// benchmark's synthetic trace (20k events, each with its k8s section):
// - the agent's work: encoding the event into a batch (BatchQueue), the batch into an AgentMessage;
// - the aggregator's: decoding that AgentMessage with its events left encoded, reading each
//   event's sort keys, writing the store's record (the event's bytes and a journey section);
// - and each piece alone: encoding into a batch, the sort-key read, a whole encode and decode.
// Reads the built code (npx tsc -b) of each checkout given (default: this one) and measures them
// in turns, in one process: the best of 15 rounds, so that a busy machine slows all alike.
//   node proto/bench-codec.mjs [/path/to/checkout ...]
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const N = 20_000;
const ROUNDS = 15;
const roots = process.argv.length > 2 ? process.argv.slice(2) : [dirname(dirname(fileURLToPath(import.meta.url)))];

async function subject(root) {
  const load = (path) => import(join(resolve(root), path));
  const events = await load('packages/events/dist/index.js');
  const { AgentLinkService } = await load('packages/wire/dist/index.js');
  // (the aggregator's own package; before it had one, part of the operator's)
  const aggregator = await load('aggregator/dist/journeys/index.js').catch(() =>
    load('operator/dist/aggregator/index.js'),
  );
  const { BatchQueue } = await load('agent/dist/index.js');
  const list = [];
  for (const chunk of aggregator.syntheticTrace(N))
    for (const { node, event } of chunk) {
      event.k8s = { node }; // as the agent adds it
      list.push(event);
    }
  list.length = N;
  const encoded = list.map((e) => events.encodeMessage('Event', e));
  const batch = new events.ProtoWriter(1 << 20);
  const keys = new aggregator.SortKeys();
  // (a SortKeyReader each owner keeps; before, one function with module-level scratch)
  const keyReader = aggregator.SortKeyReader ? new aggregator.SortKeyReader() : undefined;
  const readKeys = keyReader ? (raw, k) => keyReader.read(raw, k) : aggregator.readSortKeys;
  const toAgentMessages = () => {
    const q = new BatchQueue('bench', { maxBytes: 1 << 30 });
    for (const e of list) q.addEvent(e);
    q.cut();
    const out = [];
    for (let b; (b = q.nextUnsent());) out.push(events.encodeMessage('AgentMessage', { batch: b.encoded }));
    return out;
  };
  const messages = toAgentMessages();
  const deserialize = AgentLinkService['Connect'].requestDeserialize;
  const store = new events.ProtoWriter(1 << 23);
  const journey = { id: 'node-0/1', idx: 0, cluster_ts: 1_700_000_000_000_000_000n, late: false, nodes: 2 };
  const ops = {
    'agent: event to the wire': toAgentMessages,
    'aggregator: wire to store': () => {
      store.pos = 0;
      for (const m of messages)
        for (const raw of deserialize(m).batch.events) {
          readKeys(raw, keys);
          const start = store.beginLength();
          store.raw(raw);
          journey.idx++;
          store.messageField(events.fieldNumber('Event', 'journey'), 'Journey', journey);
          store.endLength(start);
        }
    },
    'encode into a batch': () => {
      batch.pos = 0;
      for (const e of list) batch.messageField(3, 'Event', e);
    },
    'sort-key read': () => {
      for (const b of encoded) readKeys(b, keys);
    },
    'encode (encodeMessage)': () => {
      for (const e of list) events.encodeMessage('Event', e);
    },
    'decode (decodeMessage)': () => {
      for (const b of encoded) events.decodeMessage('Event', b);
    },
  };
  const bytes = encoded.reduce((n, b) => n + b.length, 0) / N;
  return { root, ops, bytes, best: Object.fromEntries(Object.keys(ops).map((k) => [k, Infinity])) };
}

const subjects = [];
for (const root of roots) subjects.push(await subject(root));
for (let round = 0; round <= ROUNDS; round++)
  for (const s of subjects)
    for (const [what, fn] of Object.entries(s.ops)) {
      const t0 = performance.now();
      fn();
      if (round > 0) s.best[what] = Math.min(s.best[what], ((performance.now() - t0) * 1000) / N); // round 0: warm-up
    }
for (const s of subjects) {
  console.log(`${s.root}: ${N} events, ${s.bytes.toFixed(1)} bytes each`);
  for (const [what, us] of Object.entries(s.best)) console.log(`  ${what.padEnd(26)} ${us.toFixed(3)} µs/event`);
}
