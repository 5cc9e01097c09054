// The binary codec against protobufjs reading the same .proto files: what we write, an
// independent protobuf implementation reads back field for field, and the other way round.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import {
  isLegacySkb,
  checkMessage,
  decodeMessage,
  encodeMessage,
  ProtoDecodeError,
  type Event,
  type EventBatch,
} from '../src/index.js';
import { RETIS_FILES, readEvents } from './helpers/fixtures.js';

const PROTO = join(dirname(fileURLToPath(import.meta.url)), '../../../proto');
const root = new protobuf.Root();
root.resolvePath = (_o, t) => (t.startsWith('/') ? t : join(PROTO, t));
root.loadSync(['retrace/v1/event.proto', 'retrace/v1/agent.proto', 'retrace/v1/query.proto'], { keepCase: true });
const EventType = root.lookupType('retrace.v1.Event');
const BatchType = root.lookupType('retrace.v1.EventBatch');

// Events in retis's old flat skb layout are a file-format matter (outside the schema): agents never
// produce them, so they are left out here.
const events = RETIS_FILES.flatMap((f) => readEvents(f)).filter((e) => !isLegacySkb(e.skb));

test('every fixture event survives encode then decode unchanged', () => {
  expect(events.length).toBeGreaterThan(10);
  for (const ev of events) {
    const bytes = encodeMessage('Event', ev);
    const back = decodeMessage<Event>('Event', bytes);
    // Every value comes back; fields the file left out come back with their proto3 defaults.
    expect(back).toMatchObject(ev as Record<string, unknown>);
    expect(encodeMessage('Event', back).equals(bytes)).toBe(true);
  }
});

test('protobufjs reads our encoding with the same values', () => {
  for (const ev of events.slice(0, 200)) {
    const theirs = EventType.toObject(EventType.decode(encodeMessage('Event', ev)), {
      longs: String,
      bytes: String,
    }) as { common?: { timestamp?: string }; packet?: { data?: string }; kernel?: { symbol?: string } };
    expect(theirs.common?.timestamp ?? '0').toBe(String(ev.common?.timestamp ?? 0n));
    if (ev.packet) expect(theirs.packet?.data).toBe(ev.packet.data);
    if (ev.kernel) expect(theirs.kernel?.symbol).toBe(ev.kernel.symbol);
  }
});

test('we read what protobufjs writes, including 64-bit and negative values', () => {
  const msg = EventType.fromObject({
    common: { timestamp: '18446744073709551615', smp_id: 3, task: { pid: -5, tgid: 7, comm: 'ping' } },
    ovs: { event_type: 'upcall_return', ret: -32, upcall_ts: '1234567890123456789' },
    nft: { table_name: 't', chain_name: 'c', verdict: 'drop', rule_handle: '-2' },
    k8s: { node: 'node-a', namespace: 'team', pod: 'web-1' },
  });
  const ours = decodeMessage<Event>('Event', EventType.encode(msg).finish());
  expect(ours.common?.timestamp).toBe(18446744073709551615n);
  expect(ours.common?.smp_id).toBe(3);
  expect(ours.common?.task?.pid).toBe(-5);
  expect(ours.ovs?.ret).toBe(-32);
  expect(ours.ovs?.upcall_ts).toBe(1234567890123456789n);
  expect(ours.nft?.rule_handle).toBe(-2n);
  expect(ours.k8s).toEqual({ node: 'node-a', namespace: 'team', pod: 'web-1' });
});

test('a batch can carry events encoded beforehand, and be read with them left encoded', () => {
  const pre = events.slice(0, 3).map((e) => encodeMessage('Event', e));
  const bytes = encodeMessage('EventBatch', { trace: 'ns/t', seq: 9n, events: pre, lost: [{ probe: 'p', count: 2n }] });
  const theirs = BatchType.toObject(BatchType.decode(bytes), { longs: String }) as { events: unknown[]; seq: string };
  expect(theirs.events).toHaveLength(3);
  expect(theirs.seq).toBe('9');
  const raw = decodeMessage<EventBatch>('EventBatch', bytes, { raw: new Set(['EventBatch.events']) });
  expect(raw.events?.map((e) => Buffer.from(e as unknown as Uint8Array).toString('hex'))).toEqual(
    pre.map((b) => b.toString('hex')),
  );
  expect(raw.lost).toEqual([{ probe: 'p', count: 2n }]);
});

test('truncated and malformed input is refused with what was wrong', () => {
  const bytes = encodeMessage('Event', events[0] as Event);
  expect(() => decodeMessage('Event', bytes.subarray(0, bytes.length - 3))).toThrow(ProtoDecodeError);
  expect(() => decodeMessage('Event', bytes.subarray(0, bytes.length - 3))).toThrow(/malformed .* message: .* at byte/);
  expect(() => decodeMessage('Event', Buffer.from([0x0a, 0x05, 0x01]))).toThrow(/runs past the end/);
});

test('a field sent with another wire type is refused by checkMessage, and skipped by a decode', () => {
  // Event.common (a message) as a varint: C++, Go and protobufjs decoders take it for an unknown
  // field (skipped, as those are); the aggregator's check, which stored events pass, refuses it.
  const bytes = Buffer.from([0x08, 0x01]);
  expect(() => checkMessage('Event', bytes)).toThrow(/wire type 0, expected 2/);
  expect(decodeMessage<Event>('Event', bytes)).toEqual({});
});

test('unknown fields from a newer peer are skipped', () => {
  const known = encodeMessage('Heartbeat', { sent_ns: 5n });
  const extra = Buffer.concat([known, Buffer.from([0xf8, 0x01, 0x2a, 0x82, 0x02, 0x02, 0x68, 0x69])]); // field 31 varint, field 32 bytes
  expect(decodeMessage('Heartbeat', extra)).toEqual({ sent_ns: 5n });
});

test('64-bit varints either side of 2^49, 2^53 and 2^63 come back, and protobufjs agrees', () => {
  for (const v of [2n ** 49n - 1n, 2n ** 49n, 2n ** 53n + 1n, 2n ** 56n + 12345n, 2n ** 63n, 2n ** 64n - 1n]) {
    const ev: Event = { 'skb-tracking': { orig_head: v, timestamp: v - 1n, skb: 1n } };
    const bytes = encodeMessage('Event', ev);
    expect(decodeMessage<Event>('Event', bytes)['skb-tracking']).toEqual(ev['skb-tracking']);
    const theirs = EventType.toObject(EventType.decode(bytes), { longs: String }) as {
      skb_tracking: { orig_head: string };
    };
    expect(BigInt(theirs.skb_tracking.orig_head)).toBe(v);
  }
});

test('checkMessage finds damage anywhere inside, and names it', () => {
  const ev: Event = {
    kernel: { symbol: 'skb:kfree_skb', probe_type: 'raw_tracepoint' },
    packet: { len: 3, capture_len: 3, data: 'AAEC' },
  };
  const bytes = encodeMessage('Event', ev);
  expect(() => checkMessage('Event', bytes)).not.toThrow();
  expect(() => checkMessage('Event', bytes.subarray(0, bytes.length - 1))).toThrow(ProtoDecodeError);
  // A string field of Kernel (symbol) whose length runs past the Kernel section.
  const damaged = Buffer.concat([Buffer.from([0x12, 0x03, 0x0a, 0x05, 0x61]), bytes]);
  expect(() => checkMessage('Event', damaged)).toThrow(/a field of Kernel runs past the end/);
});

test('base64 packet data is written as its bytes however it is spelled, and results do not share a buffer', () => {
  const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
  const want = encodeMessage('Packet', { len: 7, data: bytes });
  for (const data of [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, ''), 'AAEC +vv8/Q=='])
    expect(encodeMessage('Packet', { len: 7, data })).toEqual(want);
  const a = encodeMessage('Packet', { len: 1 });
  const b = encodeMessage('Packet', { len: 2 });
  expect(decodeMessage('Packet', a)).toMatchObject({ len: 1 });
  expect(b).not.toBe(a);
});

test('strings are written as protobufjs writes them: ASCII, non-ASCII anywhere, either side of 128 bytes', () => {
  const names = [
    'eth0',
    'a'.repeat(127),
    'a'.repeat(128),
    'é',
    `${'a'.repeat(126)}é`,
    `pod-${'x'.repeat(60)}-ü-${'y'.repeat(60)}`,
    'ns/日本語',
    'probe 🚀',
  ];
  for (const comm of names) {
    const ev: Event = { common: { timestamp: 1n, task: { pid: 1, tgid: 1, comm } }, k8s: { node: comm, pod: comm } };
    const ours = encodeMessage('Event', ev);
    const theirs = EventType.encode(EventType.fromObject({ ...ev, common: { ...ev.common, timestamp: 1 } })).finish();
    expect(Buffer.from(theirs).toString('hex')).toBe(ours.toString('hex'));
    expect(decodeMessage<Event>('Event', ours).k8s?.pod).toBe(comm);
  }
});
