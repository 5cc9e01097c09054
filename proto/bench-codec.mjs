#!/usr/bin/env node
// Micro-benchmark of the protobuf code on the paths that matter: encoding an event into a batch
// (the agent), reading an event's sort keys (the aggregator), and a whole encode and decode.
// 20k events of the cluster benchmark's synthetic trace, each with its k8s section. Reads the
// built code (npx tsc -b) of each checkout given (default: this one) and measures them in turns,
// in one process: the best of 15 rounds per event, so that a busy machine slows all alike.
//   node proto/bench-codec.mjs [/path/to/checkout ...]
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const N = 20_000;
const ROUNDS = 15;
const roots = process.argv.length > 2 ? process.argv.slice(2) : [dirname(dirname(fileURLToPath(import.meta.url)))];

async function subject(root) {
  const events = await import(join(resolve(root), 'packages/events/dist/index.js'));
  const aggregator = await import(join(resolve(root), 'operator/dist/aggregator/index.js'));
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
  const ops = {
    'encode into a batch': () => {
      batch.pos = 0;
      for (const e of list) batch.messageField(3, 'Event', e);
    },
    'sort-key read': () => {
      for (const b of encoded) aggregator.readSortKeys(b, keys);
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
  for (const [what, us] of Object.entries(s.best)) console.log(`  ${what.padEnd(24)} ${us.toFixed(3)} µs/event`);
}
