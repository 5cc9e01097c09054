// Benchmark: the aggregator's memory while the query API streams a big trace. A real
// retrace-aggregator process serves a store written here (a trace of as many small events as
// the default store cap holds, about 860k, and a small one); its RSS is sampled from /proc while
// clients read: the small trace (the baseline, same run), the big one read as fast as possible,
// read by a client that pauses, and by --max-queries clients at once that all stop reading.
// What is printed is each phase's peak RSS as a ratio to the idle aggregator's (the baseline,
// measured in the same run), and its growth, next to the size of the trace's JSON: bounded
// streaming keeps the ratio near 1 whatever the trace's size (what growth there is, is mostly
// garbage the young generation holds until it is collected) (before, every stream could hold up to 16
// messages of 256 KiB, and nothing limited how many streams ran).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { encodeMessage, type Event, type EventChunk, type EventsRequest } from '@retrace/events';
import { QueryService } from '@retrace/wire';
import { SortKeyReader, SortedEvent, TraceStore } from '@retrace/aggregator';
import { startAggregator } from '../lab/cluster-procs.js';

const BIG = Number(process.env['RETRACE_BENCH_QUERY_EVENTS'] ?? 860_000);
const SMALL = 10_000;
const MAX_QUERIES = 4;

function fill(dir: string): void {
  const store = TraceStore.open(dir);
  const keys = new SortKeyReader();
  const data = Buffer.alloc(98, 0x5a).toString('base64');
  for (const [trace, n] of [
    ['bench/big', BIG],
    ['bench/small', SMALL],
  ] as const)
    for (let i = 0; i < n; i++) {
      const ev: Event = {
        common: { timestamp: BigInt(i), smp_id: 0 },
        kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
        packet: { len: 98, capture_len: 98, data },
        k8s: { node: 'node-a', namespace: 'bench', pod: `pod-${i % 50}` },
      };
      store.append(trace, {
        id: `node-a/${i}`,
        nodes: ['node-a'],
        events: [new SortedEvent('node-a', encodeMessage('Event', ev), keys, BigInt(i))],
      });
    }
  store.close();
}

const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};

/** Runs `f` while sampling the process's RSS; returns the peak. */
async function peakDuring(pid: number, f: () => Promise<void>): Promise<number> {
  let peak = rssOf(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  try {
    await f();
  } finally {
    clearInterval(t);
  }
  return Math.max(peak, rssOf(pid));
}

const Ctor = makeGenericClientConstructor(QueryService, 'Query');

function open(client: Client, trace: string): ClientReadableStream<EventChunk> {
  const req: EventsRequest = { trace, format: 'json', node: '', pod: '', drop_reason: '' };
  return (client as unknown as { StreamEvents: (r: EventsRequest) => ClientReadableStream<EventChunk> }).StreamEvents(
    req,
  );
}

/** Reads the whole trace; `pauseEvery`: after that many messages, stops reading for `pauseMs`. */
function read(client: Client, trace: string, pauseEvery = 0, pauseMs = 0): Promise<number> {
  const s = open(client, trace);
  let bytes = 0;
  let n = 0;
  s.on('data', (c: EventChunk) => {
    bytes += c.data.length;
    if (pauseEvery && ++n % pauseEvery === 0) {
      s.pause();
      setTimeout(() => s.resume(), pauseMs);
    }
  });
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(bytes));
    s.on('error', reject);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-bench-query-'));
  const clients: Client[] = [];
  let agg: Awaited<ReturnType<typeof startAggregator>> | undefined;
  try {
    fill(join(dir, 'store'));
    agg = await startAggregator({
      store: join(dir, 'store'),
      extra: ['--max-queries', String(MAX_QUERIES)],
    });
    const pid = agg.child.pid as number;
    const client = (): Client => {
      const c = new Ctor(agg?.address ?? '', credentials.createInsecure(), {
        'grpc.max_receive_message_length': 64 << 20,
      });
      clients.push(c);
      return c;
    };
    // Settled: the store's index is built and the first query's code is compiled.
    await read(client(), 'bench/small');
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssOf(pid);
    let smallBytes = 0;
    const small = await peakDuring(pid, async () => {
      smallBytes = await read(client(), 'bench/small');
    });
    let bigBytes = 0;
    const fast = await peakDuring(pid, async () => {
      bigBytes = await read(client(), 'bench/big');
    });
    const slow = await peakDuring(pid, async () => {
      await read(client(), 'bench/big', 200, 50);
    });
    // MAX_QUERIES readers that stop after their first message (held open), and one more, refused.
    let refused = '';
    const stalled = await peakDuring(pid, async () => {
      const held = Array.from({ length: MAX_QUERIES }, () => open(client(), 'bench/big'));
      for (const s of held) s.on('error', () => undefined);
      await Promise.all(held.map((s) => new Promise((r) => s.once('data', r))));
      for (const s of held) s.pause();
      await new Promise((r) => setTimeout(r, 2000));
      refused = await read(client(), 'bench/small').then(
        () => 'served (not refused)',
        (e: ServiceError) => `refused, code ${e.code}`,
      );
      for (const s of held) s.cancel();
    });
    const mib = (b: number): string => `${(b / (1 << 20)).toFixed(1)} MiB`;
    const row = (label: string, peak: number): void =>
      console.log(
        `  ${label.padEnd(40)} peak RSS ${mib(peak).padStart(10)} = ${(peak / idle).toFixed(2)}x idle ` +
          `(grew ${mib(Math.max(peak - idle, 0))})`,
      );
    console.log(
      `query API memory: retrace-aggregator streaming a trace of ${BIG.toLocaleString()} events (${mib(bigBytes)} of JSON); ` +
        `baseline: the idle aggregator, same run, RSS ${mib(idle)}`,
    );
    row(`${SMALL.toLocaleString()} events (${mib(smallBytes)}), read at once`, small);
    row(`${BIG.toLocaleString()} events, read at once`, fast);
    row(`${BIG.toLocaleString()} events, reader pausing`, slow);
    row(`${MAX_QUERIES} readers stopped (--max-queries ${MAX_QUERIES})`, stalled);
    console.log(`  a query beyond --max-queries ${MAX_QUERIES}: ${refused}`);
  } finally {
    for (const c of clients) c.close();
    await agg?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`query-memory bench: ${e.stack ?? e.message}`);
  process.exit(1);
});
