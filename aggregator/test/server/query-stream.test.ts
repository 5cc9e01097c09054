// The query API under a slow, paused or departing client, over real gRPC on a real socket: a
// trace of a few hundred thousand stored events is streamed while the client reads slowly; the
// aggregator produces only as fast as the client reads (bytes in flight under the bound), stops
// reading the store when the client cancels, and refuses streams beyond --max-queries.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type Server,
  type ServiceError,
} from '@grpc/grpc-js';
import { type EventChunk, type EventsRequest } from '@retrace/events';
import { QueryService } from '@retrace/wire';
import { TraceStore } from '../../src/journeys/index.js';
import { Aggregator } from '../../src/server/aggregator.js';
import { aggregatorGrpcServer } from '../../src/server/grpc-server.js';
import { QueryServer, type QueryStats } from '../../src/server/query-server.js';
import { event, podPing, sortedEvent, tracking } from '../journeys/packets.js';

const JOURNEYS = 200_000;
const INFLIGHT = 64 << 10;
const TRACE = 'default/big';

let dir: string;
let agg: Aggregator;
let query: QueryServer;
let server: Server;
let address: string;
const clients: Client[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-query-'));
  // Stored straight into the store: one small event per journey, as many as a busy trace holds.
  const store = TraceStore.open(join(dir, 'store'));
  for (let i = 0; i < JOURNEYS; i++) {
    const ev = event({
      ts: BigInt(i),
      tracking: tracking(BigInt(i), 0xffff888000000000n + BigInt(i) * 0x100n),
      packet: podPing(i & 0xffff),
      node: 'node-a',
      pod: { namespace: 'default', name: 'client' },
    });
    store.append(TRACE, { id: `node-a/${i}`, nodes: ['node-a'], events: [sortedEvent('node-a', ev, BigInt(i))] });
  }
  store.close();
  agg = new Aggregator({ storeDir: join(dir, 'store'), log: () => undefined });
  query = new QueryServer(agg, { maxQueries: 2, maxInFlightBytes: INFLIGHT, log: () => undefined });
  server = aggregatorGrpcServer();
  server.addService(QueryService, query.handlers() as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
}, 120_000);

afterAll(() => {
  for (const c of clients) c.close();
  server?.forceShutdown();
  agg?.close();
  rmSync(dir, { recursive: true, force: true });
});

const Ctor = makeGenericClientConstructor(QueryService, 'Query');

function stream(format = 'json'): ClientReadableStream<EventChunk> {
  const c = new Ctor(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  clients.push(c);
  const req: EventsRequest = { trace: TRACE, format, node: '', pod: '', drop_reason: '' };
  return (c as unknown as { StreamEvents: (r: EventsRequest) => ClientReadableStream<EventChunk> }).StreamEvents(req);
}

/** Polls the server's counters until `ok` (a guard against hanging, not a timing assertion). */
async function until(what: string, ok: (s: QueryStats) => boolean, ms = 30_000): Promise<QueryStats> {
  const end = Date.now() + ms;
  for (;;) {
    const s = query.stats();
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const idle = (s: QueryStats): boolean => s.active === 0 && s.readers === 0;

test('a paused client holds the aggregator back; read slowly, every journey arrives with the bytes in flight under the bound', async () => {
  await until('no stream running', idle);
  const s = stream();
  const lines: string[] = [];
  let rest = '';
  let chunks = 0;
  const done = new Promise<void>((resolve, reject) => {
    s.on('end', resolve);
    s.on('error', reject);
  });
  done.catch(() => undefined); // awaited below; not unhandled if an assertion fails first
  s.on('data', (c: EventChunk) => {
    chunks++;
    const parts = (rest + Buffer.from(c.data).toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
    // A slow reader: every 50th message, it stops until the aggregator is waiting for it (or
    // has read the whole trace).
    if (chunks % 50 === 0) {
      s.pause();
      void until('the aggregator waiting for the reader', (st) => !st.streams[0]?.reading || st.streams[0].waiting)
        .then((st) => {
          if (st.inFlightBytes > INFLIGHT) s.destroy(new Error(`${st.inFlightBytes} bytes in flight`));
          else s.resume();
        })
        .catch((e: Error) => s.destroy(e));
    }
  });
  // Paused from the start: the aggregator fills what the client buffers and the bound, then waits.
  s.pause();
  const paused = await until('the aggregator waiting for the paused reader', (st) => st.streams[0]?.waiting === true);
  const read = paused.streams[0]?.journeys ?? 0;
  expect(read).toBeGreaterThan(0);
  expect(read).toBeLessThan(JOURNEYS / 4); // it did not read the trace ahead of the client
  expect(paused.inFlightBytes).toBeLessThanOrEqual(INFLIGHT);
  s.resume();
  await done;
  expect(rest).toBe('');
  expect(lines).toHaveLength(JOURNEYS);
  expect((JSON.parse(lines[JOURNEYS - 1] as string) as { journey?: { id?: string } }[])[0]?.journey?.id).toBe(
    `node-a/${JOURNEYS - 1}`,
  );
  const st = await until('the stream to end', idle);
  expect(st.ended.at(-1)).toMatchObject({ trace: TRACE, journeys: JOURNEYS, reason: 'done' });
  expect(st.ended.at(-1)?.peakInFlightBytes).toBeGreaterThan(0);
  expect(st.peakInFlightBytes).toBeLessThanOrEqual(INFLIGHT);
}, 120_000);

test('pcap-ng is held back the same way: a paused reader stops the aggregator under the bound, and the capture arrives whole', async () => {
  await until('no stream running', idle);
  const s = stream('pcapng');
  const parts: Buffer[] = [];
  s.on('data', (c: EventChunk) => parts.push(Buffer.from(c.data)));
  const done = new Promise<void>((resolve, reject) => {
    s.on('end', resolve);
    s.on('error', reject);
  });
  done.catch(() => undefined);
  s.pause();
  const paused = await until('the aggregator waiting for the paused reader', (st) => st.streams[0]?.waiting === true);
  expect(paused.streams[0]?.journeys).toBeLessThan(JOURNEYS / 4);
  expect(paused.inFlightBytes).toBeLessThanOrEqual(INFLIGHT);
  s.resume();
  await done;
  const pcap = Buffer.concat(parts);
  // Section header block first; one enhanced packet block (type 6) per stored event.
  expect(pcap.readUInt32LE(0)).toBe(0x0a0d0d0a);
  let packets = 0;
  for (let off = 0; off + 8 <= pcap.length; off += pcap.readUInt32LE(off + 4))
    if (pcap.readUInt32LE(off) === 6) packets++;
  expect(packets).toBe(JOURNEYS);
  const st = await until('the stream to end', idle);
  expect(st.ended.at(-1)).toMatchObject({ journeys: JOURNEYS, reason: 'done' });
  expect(st.ended.at(-1)?.peakInFlightBytes).toBeLessThanOrEqual(INFLIGHT);
}, 120_000);

test("a client that cancels stops the aggregator's reading of the trace", async () => {
  await until('no stream running', idle);
  const s = stream();
  s.on('error', () => undefined); // CANCELLED, as asked
  await new Promise((r) => s.once('data', r));
  s.cancel();
  const st = await until('the stream to end', idle);
  const last = st.ended.at(-1);
  expect(last).toMatchObject({ trace: TRACE, reason: 'cancelled' });
  expect(last?.journeys).toBeLessThan(JOURNEYS / 4);
  expect(st.inFlightBytes).toBe(0);
});

test('streams beyond --max-queries are refused with RESOURCE_EXHAUSTED naming the limit and its flag; a freed slot is taken again', async () => {
  await until('no stream running', idle);
  const held = [stream(), stream()];
  for (const s of held) {
    s.on('error', () => undefined);
    s.pause();
  }
  await until('two streams waiting', (st) => st.active === 2 && st.streams.every((q) => q.waiting));
  const third = stream();
  const err = await new Promise<ServiceError>((resolve, reject) => {
    third.on('data', () => reject(new Error('a third stream was served')));
    third.on('error', resolve);
  });
  expect(err.code).toBe(8); // RESOURCE_EXHAUSTED
  expect(err.details).toMatch(/already streaming 2 queries.*--max-queries 2.*larger --max-queries/);
  expect(query.stats().refusedBusy).toBeGreaterThanOrEqual(1);

  held[0]?.cancel();
  await until('one slot free', (st) => st.active === 1);
  const fourth = stream();
  fourth.on('error', () => undefined);
  await new Promise((r) => fourth.once('data', r)); // served
  fourth.cancel();
  held[1]?.cancel();
  await until('no stream running', idle);
});

test('a client that takes nothing for --query-stall-ms loses its stream: the slot is free again and the log says why', async () => {
  const said: string[] = [];
  const q = new QueryServer(agg, { maxQueries: 1, maxInFlightBytes: INFLIGHT, stallMs: 300, log: (m) => said.push(m) });
  const srv = aggregatorGrpcServer();
  srv.addService(QueryService, q.handlers() as never);
  const port = await new Promise<number>((resolve, reject) =>
    srv.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  // A client that stops reading: once its stream runs, what the aggregator sends stops at this
  // proxy, so no window update comes back (connected, asking, taking nothing).
  const sockets: Socket[] = [];
  const proxy = createServer((down) => {
    const up = connect(port, '127.0.0.1');
    sockets.push(down, up);
    down.pipe(up);
    up.on('data', (d: Buffer) => {
      if (q.stats().active === 0) down.write(d);
      else up.pause();
    });
    for (const s of [down, up]) s.on('error', () => undefined);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const open = (p: number): ClientReadableStream<EventChunk> => {
    const c = new Ctor(`127.0.0.1:${p}`, credentials.createInsecure());
    clients.push(c);
    const req: EventsRequest = { trace: TRACE, format: 'json', node: '', pod: '', drop_reason: '' };
    return (c as unknown as { StreamEvents: (r: EventsRequest) => ClientReadableStream<EventChunk> }).StreamEvents(req);
  };
  try {
    const stalled = open((proxy.address() as AddressInfo).port);
    stalled.on('error', () => undefined);
    const deadline = Date.now() + 20_000;
    while ((q.stats().active > 0 || q.stats().ended.length === 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(q.stats().active).toBe(0);
    expect(q.stats().ended.at(-1)).toMatchObject({ trace: TRACE, reason: 'stalled' });
    expect(q.stats().ended.at(-1)?.journeys).toBeLessThan(JOURNEYS);
    expect(said.join('\n')).toMatch(/client took nothing for 300 ms; ended after \d+ journeys \(--query-stall-ms\)/);
    // The slot is taken again by a client that reads.
    const next = open(port);
    next.on('error', () => undefined); // the cancel below
    await new Promise((r) => next.once('data', r));
    next.cancel();
  } finally {
    for (const s of sockets) s.destroy();
    proxy.close();
    srv.forceShutdown();
  }
}, 60_000);
