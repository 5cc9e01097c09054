// Benchmark: the cluster data plane end to end, agent encode -> gRPC (real HTTP/2 over loopback)
// -> aggregator decode, sort, stitch -> store, with 1, 4 and 16 agents; the aggregator's sort
// alone; peak memory. Ratios are against baselines measured in the same run: for the pipeline,
// the same events through JSON.stringify + JSON.parse in one process (the cheapest text
// pipeline, without a network); for the sort, one Array.prototype.sort of every event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { AgentLink } from '@retrace/agent';
import {
  AgentLinkService,
  PROTOCOL_VERSION,
  encodeMessage,
  stringifyEvent,
  parseEvent,
  type Event,
} from '@retrace/events';
import { Aggregator, benchSort, syntheticTrace } from '@retrace/operator';

const EVENTS = Number(process.env['RETRACE_BENCH_EVENTS'] ?? 200_000);
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

function eventsFor(nodes: number, n: number): { node: string; event: Event }[][] {
  const per: { node: string; event: Event }[][] = Array.from({ length: nodes }, () => []);
  let i = 0;
  for (const chunk of syntheticTrace(n))
    for (const item of chunk) per[i++ % nodes]?.push({ node: `node-${i % nodes}`, event: item.event });
  return per;
}

function baseline(events: { event: Event }[][]): number {
  const t0 = performance.now();
  let n = 0;
  for (const list of events) for (const { event } of list) n += parseEvent(stringifyEvent(event)) ? 1 : 0;
  return n / ((performance.now() - t0) / 1000);
}

async function pipeline(agents: number): Promise<{ rate: number; stored: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'retrace-bench-'));
  const agg = new Aggregator({ storeDir: dir, latenessMs: 200, log: () => undefined, storeCapBytes: 2 << 30 });
  const server = new Server({ 'grpc.max_receive_message_length': 64 << 20 });
  server.addService(AgentLinkService, { Connect: agg.link.connect });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  agg.setTraces([
    {
      name: 'bench',
      namespaced: false,
      collectors: [],
      probes: [],
      filter: '',
      meta_filter: '',
      stack: false,
      pods: [],
      ovs_track: false,
      allow_system_changes: false,
    },
  ]);
  const per = eventsFor(agents, EVENTS);
  const links = per.map((_, i) => {
    const l = new AgentLink({
      address: `127.0.0.1:${port}`,
      tls: { insecure: true },
      register: () => ({
        protocol: PROTOCOL_VERSION,
        node: `node-${i}`,
        kernel_release: 'bench',
        version: 'bench',
        incarnation: `b${i}`,
        boot_offset: { sec: 1_700_000_000n, nsec: 0n },
      }),
      onAssignments: () => undefined,
      maxBytesPerTrace: 1 << 30,
      flushMs: 5,
    });
    l.start();
    return l;
  });
  while (!links.every((l) => l.connected)) await new Promise((r) => setTimeout(r, 10));
  const t0 = performance.now();
  // The agent's work per event: its k8s section and the encoding, then the link.
  await Promise.all(
    per.map(async (list, i) => {
      const q = (links[i] as AgentLink).queue('bench');
      for (let k = 0; k < list.length; k++) {
        const { node, event } = list[k] as { node: string; event: Event };
        event.k8s = { node };
        q.add(encodeMessage('Event', event));
        if (k % 2000 === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  const total = per.reduce((n, l) => n + l.length, 0);
  for (;;) {
    const s = agg.summary('bench');
    if (s.events >= BigInt(total) && links.every((l) => l.allIdle())) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const l of links) l.stop();
  agg.close(); // releases what the watermark still holds, and stores it
  const secs = (performance.now() - t0) / 1000;
  const stored = Number(agg.summary('bench').events);
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
  return { rate: total / secs, stored };
}

async function main(): Promise<void> {
  const base = baseline(eventsFor(1, Math.min(EVENTS, 100_000)));
  console.log(`cluster pipeline, ${EVENTS} events (2 cores shared by agents and aggregator)`);
  console.log(`  baseline JSON stringify+parse, one process: ${Math.round(base).toLocaleString()} events/s`);
  for (const agents of [1, 4, 16]) {
    const r = await pipeline(agents);
    console.log(
      `  ${String(agents).padStart(2)} agent(s) -> gRPC -> aggregator sort -> store: ${Math.round(r.rate).toLocaleString()} events/s (${(r.rate / base).toFixed(2)}x baseline; goal 300k/s)`,
    );
  }
  const s = benchSort(Math.max(EVENTS, 500_000));
  console.log(
    `  aggregator sort alone: ${Math.round(s.eventsPerSec).toLocaleString()} events/s (${(s.eventsPerSec / s.baselineEventsPerSec).toFixed(2)}x Array.prototype.sort at ${Math.round(s.baselineEventsPerSec).toLocaleString()}/s; goal 1M/s)`,
  );
  clearInterval(sampler);
  console.log(`  peak RSS: ${(peakRss / 1048576).toFixed(0)} MiB`);
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
