// The agent's link against the aggregator's link server, in one process over real gRPC on
// loopback: registration, assignments, batches in order and acknowledged, resend after a
// reconnect without duplicates, a stalled stream noticed by the deadline, and the bound.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  decodeMessage,
  encodeMessage,
  type Assignments,
  type Event,
  type EventBatch,
  type SeqGap,
  type TraceSpec,
} from '@retrace/events';
import { AgentLinkService, PROTOCOL_VERSION } from '@retrace/wire';
import { AgentLinkServer, type AgentStream, type LinkHandler } from '@retrace/aggregator';
import { AgentLink, BatchQueue } from '@retrace/agent';

const spec: TraceSpec = {
  name: 't1',
  namespaced: false,
  collectors: [],
  probes: [],
  filter: '',
  meta_filter: '',
  profile: '',
  stack: false,
  pods: [],
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nft_verdicts: '',
};

class Recorder implements LinkHandler {
  batches: { node: string; seq: bigint; ts: bigint[] }[] = [];
  gaps: SeqGap[] = [];
  ended: string[] = [];
  registered: string[] = [];
  tracesFor = (): TraceSpec[] => [spec];
  onRegister = (s: AgentStream): void => void this.registered.push(s.incarnation);
  onAttach = (): void => undefined;
  /** The link to acknowledge through: this handler stands for a store that is durable at once. */
  link: AgentLinkServer | undefined;
  acked = 0n;
  onBatch = (s: AgentStream, t: string, seq: bigint, events: Uint8Array[]): void => {
    this.batches.push({
      node: s.node,
      seq,
      ts: events.map((e) => decodeMessage<Event>('Event', e).common?.timestamp ?? 0n),
    });
    this.link?.ack(s.node, s.incarnation, t, seq);
    this.acked = seq;
  };
  onGap = (_n: string, _t: string, g: SeqGap): void => void this.gaps.push(g);
  onLost = (): void => undefined;
  onStatus = (): void => undefined;
  onComplete = (): void => undefined;
  onStreamEnd = (_s: AgentStream, reason: string): void => void this.ended.push(reason);
  onStreamError = (): void => undefined;
}

async function serve(
  handler: LinkHandler,
  timing = { heartbeatMs: 100, deadlineMs: 600 },
): Promise<{ server: Server; link: AgentLinkServer; port: number }> {
  const server = new Server();
  const link = new AgentLinkServer(handler, timing);
  if (handler instanceof Recorder) handler.link = link;
  server.addService(AgentLinkService, { Connect: link.connect });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { server, link, port };
}

const until = async (what: string, f: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const ev = (ts: number): Event => ({ common: { timestamp: BigInt(ts) } });

function agent(port: number, onAssignments: (a: Assignments) => void, incarnation = 'run1'): AgentLink {
  return new AgentLink({
    address: `127.0.0.1:${port}`,
    tls: { insecure: true },
    register: () => ({ protocol: PROTOCOL_VERSION, node: 'n1', kernel_release: 'k', version: 't', incarnation }),
    onAssignments,
    flushMs: 10,
    reconnectMinMs: 50,
  });
}

test('registers, receives its assignments, and its batches arrive in order and are acknowledged', async () => {
  const rec = new Recorder();
  const { server, port } = await serve(rec);
  const got: Assignments[] = [];
  const a = agent(port, (x) => got.push(x));
  a.start();
  await until('assignments', () => got.length > 0);
  expect(got[0]).toMatchObject({ full: true, traces: [{ name: 't1' }] });
  const q = a.queue('t1');
  for (let i = 1; i <= 3000; i++) q.addEvent(ev(i));
  await until('all events', () => rec.batches.flatMap((b) => b.ts).length === 3000);
  expect(rec.batches.map((b) => b.seq)).toEqual(rec.batches.map((_, i) => BigInt(i + 1)));
  expect(rec.batches.flatMap((b) => b.ts)).toEqual(Array.from({ length: 3000 }, (_, i) => BigInt(i + 1)));
  await until('acknowledged', () => q.idle);
  await a.stop();
  server.forceShutdown();
});

test('after the server restarts, unacknowledged batches are resent and duplicates dropped', async () => {
  const rec = new Recorder();
  let { server, port } = await serve(rec);
  const a = agent(port, () => undefined);
  a.start();
  await until('connected', () => a.connected);
  const q = a.queue('t1');
  for (let i = 1; i <= 100; i++) q.addEvent(ev(i));
  await until('first events', () => rec.batches.length > 0 && q.idle);
  // What a restarted aggregator's checkpoint gives back: the batches it acknowledged.
  const cursors = { n1: { incarnation: 'run1', lastSeq: { t1: String(rec.acked) } } };
  server.forceShutdown();
  await until('disconnected', () => !a.connected);
  for (let i = 101; i <= 200; i++) q.addEvent(ev(i)); // gathered while away
  ({ server, port } = await (async () => {
    const s = new Server();
    const l = new AgentLinkServer(rec, { heartbeatMs: 100, deadlineMs: 600 });
    l.loadCursors(cursors);
    rec.link = l;
    s.addService(AgentLinkService, { Connect: l.connect });
    await new Promise<number>((res, rej) =>
      s.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    return { server: s, port };
  })());
  await until('all 200', () => rec.batches.flatMap((b) => b.ts).length >= 200, 15_000);
  const ts = rec.batches.flatMap((b) => b.ts);
  expect(ts).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i + 1)));
  expect(rec.gaps).toEqual([]);
  await a.stop();
  server.forceShutdown();
});

test('a new incarnation of a node reports what its previous run may have lost', async () => {
  const rec = new Recorder();
  const { server, port } = await serve(rec);
  const a = agent(port, () => undefined, 'first');
  a.start();
  const q = a.queue('t1');
  for (let i = 1; i <= 10; i++) q.addEvent(ev(i));
  await until('events', () => q.idle && rec.batches.length > 0);
  await a.stop();
  const b = agent(port, () => undefined, 'second');
  b.start();
  await until('second registration', () => rec.registered.includes('second'));
  expect(rec.gaps).toEqual([
    expect.objectContaining({ incarnation: 'first', first_seq: rec.batches.at(-1)!.seq + 1n, last_seq: 0n }),
  ]);
  await b.stop();
  server.forceShutdown();
});

test('a stream that goes silent is ended by the deadline on the server', async () => {
  const rec = new Recorder();
  const { server, port } = await serve(rec, { heartbeatMs: 100, deadlineMs: 400 });
  const a = agent(port, () => undefined);
  a.start();
  await until('connected', () => a.connected);
  // Freeze the agent's side: no heartbeats go out (its timers are stopped), the stream stays open.
  (a as unknown as { timers: NodeJS.Timeout[] }).timers.forEach((t) => clearInterval(t));
  await until(
    'deadline',
    () => rec.ended.some((r) => /no message from the agent for \d+ ms \(deadline 400 ms\)/.test(r)),
    5000,
  );
  await a.stop();
  server.forceShutdown();
});

test('the batch queue cuts a batch at its byte bound before its event count', () => {
  // Large events (a long symbol: as long stacks or big snapshots are) fill the bytes first.
  const e: Event = { kernel: { symbol: 'x'.repeat(1000), probe_type: 'kprobe' } };
  const held = encodeMessage('Event', e).length + 3; // its field's tag and a 2-byte length
  const q = new BatchQueue('t', { maxBytes: 1 << 20, batchEvents: 100, batchBytes: 4 * held - 1 });
  for (let i = 0; i < 10; i++) expect(q.addEvent(e)).toBe(true);
  // The event that reaches the bound goes in the batch it closes.
  expect(q.nextUnsent()?.events).toBe(4);
  expect(q.nextUnsent()?.events).toBe(4);
  expect(q.nextUnsent()).toBeUndefined();
  q.cut();
  expect(q.nextUnsent()?.events).toBe(2);
});

test('the batch queue drops past its bound and says how many', () => {
  // Each event held costs its encoding, plus its field's tag and length (2 bytes below 128).
  const e: Event = { kernel: { symbol: 'x'.repeat(90), probe_type: 'kprobe' } };
  const held = encodeMessage('Event', e).length + 2;
  expect(held).toBeLessThan(128);
  const q = new BatchQueue('t', { maxBytes: 10 * held, batchEvents: 10 });
  let kept = 0;
  for (let i = 0; i < 25; i++) if (q.addEvent(e)) kept++;
  expect(kept).toBe(10);
  expect(q.bytes).toBe(10 * held);
  // The count of what was dropped travels in the next batch (acknowledged and resent like events).
  q.cut();
  const b = q.nextUnsent();
  expect(b?.seq).toBe(1n);
  const report = q.nextUnsent();
  expect(report?.events).toBe(0);
  const decoded = decodeMessage<EventBatch>('EventBatch', report?.encoded ?? new Uint8Array());
  expect(decoded.losses).toEqual([{ cause: 'backpressure', count: 15n }]);
  q.ack(2n);
  expect(q.bytes).toBe(0);
  expect(q.idle).toBe(true);
  expect(q.addEvent(e)).toBe(true);
});
