// The few fields the aggregator reads of each event without decoding it: they must be what a
// full decode says, and a malformed event must be refused, however deep the damage.
import {
  decodeMessage,
  encodeMessage,
  fieldNumber,
  ProtoDecodeError,
  ProtoWriter,
  trackingId,
  type Event,
} from '@retrace/events';
import { trackingIdOf } from '../../src/journeys/journey-release.js';
import { SortKeyReader } from '../../src/journeys/index.js';
import { event, overVxlan, podPing, tracking } from './packets.js';

const readSortKeys = (raw: Uint8Array) => new SortKeyReader().read(raw);

const cases: Event[] = [
  event({ ts: 123_456_789n, tracking: tracking(5n, 0xffff888812345678n), packet: podPing(3) }),
  event({
    ts: 2n ** 60n + 7n,
    tracking: tracking(2n ** 63n + 1n, 0xffffffffffffffffn),
    packet: overVxlan(podPing(4)),
    drop: 'NETFILTER_DROP',
    node: 'node-b',
    pod: { namespace: 'shop', name: 'cart-7d9f' },
  }),
  { common: { timestamp: 0n, smp_id: 1 }, kernel: { symbol: 'skb:kfree_skb', probe_type: 'raw_tracepoint' } },
  { kernel: { symbol: 'x', probe_type: 'kprobe' } },
];

test.each(cases.map((e, i) => [i, e] as const))('event %i: the keys are what a full decode says', (_i, ev) => {
  const raw = encodeMessage('Event', ev);
  const full = decodeMessage<Event>('Event', raw);
  const k = readSortKeys(raw);
  expect(k.timestamp).toBe(full.common?.timestamp);
  const st = full['skb-tracking'];
  expect([k.tracked, k.trackHead, k.trackTs]).toEqual([st !== undefined, st?.orig_head ?? 0n, st?.timestamp ?? 0n]);
  const packet = Buffer.from(k.raw.subarray(k.packetStart, k.packetEnd)).toString('base64');
  expect(packet || undefined).toBe(full.packet?.data || undefined);
  expect(k.packetLen).toBe(full.packet ? full.packet.len || Buffer.from(full.packet.data, 'base64').length : 0);
  expect(k.dropReason).toBe(full['skb-drop']?.drop_reason ?? '');
  expect(k.hasK8s).toBe(full.k8s !== undefined);
  expect([k.k8sNode, k.namespace, k.pod]).toEqual([
    full.k8s?.node ?? '',
    full.k8s?.namespace ?? '',
    full.k8s?.pod ?? '',
  ]);
});

test('one reader over a stream gives each event its own strings, and readers share nothing', () => {
  const pods = ['cart-1', 'cart-1', 'cart-22', 'c', 'cart-1'];
  const raws = pods.map((pod, i) => encodeMessage('Event', { k8s: { node: `n${i % 2}`, namespace: 'shop', pod } }));
  const one = new SortKeyReader();
  const other = new SortKeyReader();
  const seen = raws.map((raw, i) => {
    // interleaved with another reader reading something else
    other.read(encodeMessage('Event', { k8s: { node: 'x', namespace: 'y', pod: `z${i}` } }));
    const k = one.read(raw);
    return [k.k8sNode, k.namespace, k.pod];
  });
  expect(seen).toEqual(pods.map((pod, i) => [`n${i % 2}`, 'shop', pod]));
});

test('a section sent twice is merged, the later fields winning, as protobuf has it', () => {
  const a = encodeMessage('Event', { k8s: { node: 'n1', pod: 'p1' } });
  const b = encodeMessage('Event', { k8s: { node: 'n2' } });
  const k = readSortKeys(Buffer.concat([a, b]));
  expect([k.k8sNode, k.pod]).toEqual(['n2', 'p1']);
  expect(decodeMessage<Event>('Event', Buffer.concat([a, b])).k8s).toMatchObject({ node: 'n2', pod: 'p1' });
});

test('malformed events are refused with where the damage is, even inside a section it skips', () => {
  const good = encodeMessage('Event', cases[1] as Event);
  expect(() => readSortKeys(good.subarray(0, good.length - 3))).toThrow(ProtoDecodeError);
  // kernel (field 2) holding a string field (symbol, 1) whose length runs past the section.
  const kernel = Buffer.from([0x12, 0x04, 0x0a, 0x09, 0x61, 0x62]);
  expect(() => readSortKeys(Buffer.concat([kernel, good]))).toThrow(/runs past the end/);
  // common.timestamp (a varint) sent with the wire type of a string.
  const badWire = Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0x00]);
  expect(() => readSortKeys(badWire)).toThrow(/field timestamp has wire type 2, expected 0/);
  // A section it reads, one byte shorter than the node name inside it.
  const w = new ProtoWriter();
  w.uint32((fieldNumber('Event', 'k8s') << 3) | 2);
  const name = encodeMessage('K8s', { node: 'abc' });
  w.uint32(name.length - 1);
  w.raw(name);
  expect(() => readSortKeys(w.buf.subarray(0, w.pos))).toThrow(/a field of K8s runs past the end/);
  // A field it passes over inside a section it reads: packet.len with a string's wire type.
  const len = fieldNumber('Packet', 'len');
  const packet = Buffer.from([(fieldNumber('Event', 'packet') << 3) | 2, 3, (len << 3) | 2, 1, 0]);
  expect(() => readSortKeys(packet)).toThrow(/field len has wire type 2, expected 0/);
});

test('tracking ids made from halves are what trackingId makes of the bigints', () => {
  const split = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffffffffn)];
  for (const [head, ts] of [
    [0xffff888812345678n, 5n],
    [0xffffffffffffffffn, 2n ** 63n + 1n],
    [0n, 0n],
    [0x1234n, 0xffffffffn],
    [0xffff888000000000n, 0x100000000n],
  ] as const) {
    const [hh, hl] = split(head);
    const [th, tl] = split(ts);
    expect(trackingIdOf(hh, hl, th, tl)).toBe(trackingId({ orig_head: head, timestamp: ts, skb: 0n }));
  }
});

test('damage two sections deep, in a section the reader only checks, is refused too', () => {
  const ok = {
    skb: { meta: { len: 1, mark: 2 } },
    common: { timestamp: 9n, smp_id: 0, task: { pid: 1, tgid: 1, comm: 'x' } },
  };
  expect(readSortKeys(encodeMessage('Event', ok)).timestamp).toBe(9n);
  // skb (7) { meta (2) { mark (8) as a string } }
  const meta = Buffer.from([(8 << 3) | 2, 1, 0x41]);
  const skb = Buffer.concat([Buffer.from([(2 << 3) | 2, meta.length]), meta]);
  const bad = Buffer.concat([Buffer.from([(7 << 3) | 2, skb.length]), skb]);
  expect(() => readSortKeys(bad)).toThrow(/field mark has wire type 2, expected 0/);
  // common.task.comm (a string) as a varint, inside the section whose timestamp the reader reads
  const task = Buffer.from([(3 << 3) | 0, 5]);
  const common = Buffer.concat([Buffer.from([(1 << 3) | 0, 9, (3 << 3) | 2, task.length]), task]);
  expect(() => readSortKeys(Buffer.concat([Buffer.from([(1 << 3) | 2, common.length]), common]))).toThrow(
    /field comm has wire type 0, expected 2/,
  );
  expect(() => readSortKeys(Buffer.from([0x00, 0x01]))).toThrow(/field number 0/);
  // A varint cut short at the end.
  expect(() => readSortKeys(Buffer.from([(1 << 3) | 2, 2, (1 << 3) | 0, 0x80]))).toThrow(ProtoDecodeError);
});

test('fields a newer agent adds are passed over, as protobuf has it', () => {
  const known = encodeMessage('Event', event({ ts: 77n, tracking: tracking(5n, 0xffff888812345678n) }));
  // field 1000 as a varint, field 1001 as bytes, field 1002 as a fixed64, and an empty group 1003
  const unknown = Buffer.from([
    ...[0xc0, 0x3e, 0x2a],
    ...[0xca, 0x3e, 0x02, 0x01, 0x02],
    ...[0xd1, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8],
    ...[0xdb, 0x3e, 0xdc, 0x3e],
  ]);
  const k = readSortKeys(Buffer.concat([unknown, known]));
  expect([k.timestamp, k.trackHead, k.trackTs]).toEqual([77n, 0xffff888812345678n, 5n]);
});

test('k8s sections repeated from event to event, empty or merged, read as a full decode does', () => {
  const k8s = [
    { node: 'n1', namespace: 'shop', pod: 'cart' },
    { node: 'n1', namespace: 'shop', pod: 'cart' },
    {},
    { node: 'n1' },
    { node: 'n1', namespace: 'shop', pod: 'cart' },
    { node: 'n2', pod: '' },
  ];
  const keys = new SortKeyReader();
  for (const k of [...k8s, ...k8s.reverse()]) {
    const raw = encodeMessage('Event', { kernel: { symbol: 'x', probe_type: 'kprobe' }, k8s: k });
    const got = keys.read(raw);
    const full = decodeMessage<Event>('Event', raw).k8s;
    expect([got.hasK8s, got.k8sNode, got.namespace, got.pod]).toEqual([
      true,
      full?.node ?? '',
      full?.namespace ?? '',
      full?.pod ?? '',
    ]);
  }
  // Two k8s sections in one event: merged, the later fields winning, whatever was read before.
  const twice = Buffer.concat([
    encodeMessage('Event', { k8s: { node: 'n1', namespace: 'shop', pod: 'cart' } }),
    encodeMessage('Event', { k8s: { node: 'n3' } }),
  ]);
  const got = keys.read(twice);
  expect([got.k8sNode, got.namespace, got.pod]).toEqual(['n3', 'shop', 'cart']);
  expect(keys.read(encodeMessage('Event', { k8s: { node: 'n1', namespace: 'shop', pod: 'cart' } })).k8sNode).toBe('n1');
  expect(keys.read(encodeMessage('Event', { kernel: { symbol: 'x', probe_type: 'kprobe' } })).hasK8s).toBe(false);
});
