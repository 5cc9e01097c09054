// A stored record is what the schema's encoder makes of it, byte for byte: the agent's bytes, then
// k8s.node when the agent left k8s out, then the Journey section, for every kind of value (the
// record writer computes lengths and writes both sections itself).
import { ProtoWriter, decodeMessage, encodeMessage, fieldNumber, type Event } from '@retrace/events';
import { ReleasedEvent, SortKeyReader, SortedEvent, type JourneyEvent } from '../../src/journeys/index.js';
import { writeRecord } from '../../src/store/record-writer.js';
import { event, podPing, tracking } from '../journeys/packets.js';

/** The record as the generic encoder writes it. */
function generic(sid: number, e: JourneyEvent, id: string, nodes: number): Buffer {
  const w = new ProtoWriter();
  w.ensure(2);
  w.buf[w.pos++] = sid & 0xff;
  w.buf[w.pos++] = sid >>> 8;
  const start = w.beginLength();
  w.raw(e.raw);
  if (!e.hasK8s) w.messageField(fieldNumber('Event', 'k8s'), 'K8s', { node: e.node });
  w.messageField(fieldNumber('Event', 'journey'), 'Journey', {
    id,
    idx: e.idx,
    cluster_ts: e.clusterTs,
    late: e.late,
    nodes,
  });
  w.endLength(start);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

function written(sid: number, e: JourneyEvent, id: string, nodes: number): Buffer {
  const w = new ProtoWriter(16);
  const body = writeRecord(w, sid, e, Buffer.from(e.node), { id: Buffer.from(id), nodes });
  const out = Buffer.from(w.buf.subarray(0, w.pos));
  expect(out.length - 2 - body).toBeLessThanOrEqual(5); // sender, length, body
  return out;
}

const small = event({ ts: 5n, symbol: 'x' });
const withK8s = event({ ts: 7n, symbol: 'y', node: 'node-b', pod: { namespace: 'shop', name: 'cart' } });
const big = event({ ts: 2n ** 62n, tracking: tracking(1n, 0xffff888000000000n), packet: podPing(3) });

test.each([
  ['a small event, no k8s', small, 0n, 0, false, 1, 'n/1', 'node-a'],
  ['with k8s', withK8s, 1_700_000_000_123_456_789n, 3, false, 2, 'node-a/ffff', 'node-a'],
  ['late, far in the journey', small, 2n ** 64n - 1n, 300, true, 0, '', 'n'],
  ['a big packet (a 2-byte length)', big, 1n, 1, false, 200, 'x'.repeat(150), 'node-' + 'z'.repeat(200)],
  ['cluster time just past 2^35', small, 2n ** 35n, 0, false, 1, 'id', 'a'],
  ['cluster time just under 2^32', small, 2n ** 32n - 1n, 0, false, 1, 'id', 'a'],
] as const)('%s', (_what, ev, clusterTs, idx, late, nodes, id, node) => {
  const raw = encodeMessage('Event', ev as Event);
  const keys = new SortKeyReader();
  const sorted = new SortedEvent(node, raw, keys, clusterTs, idx, late);
  const k = keys.read(raw);
  // The same event as the sorter releases it: its bytes inside a bigger buffer.
  const src = Buffer.concat([Buffer.from([1, 2, 3]), raw, Buffer.from([4])]);
  // Its time as two halves, as the sorter makes it.
  const u = BigInt.asUintN(64, clusterTs);
  const [hi, lo] = [Number(u >> 32n) | 0, Number(u & 0xffffffffn) | 0];
  const released = new ReleasedEvent(
    node,
    src,
    3,
    3 + raw.length,
    false,
    hi,
    lo,
    idx,
    late,
    k.dropReason,
    { present: k.hasK8s, node: k.k8sNode, namespace: k.namespace, pod: k.pod },
    undefined,
    0,
  );
  expect(released.clusterTs).toBe(clusterTs);
  for (const [sid, e] of [
    [7, sorted],
    [0x1234, released],
  ] as const) {
    const want = generic(sid, e, id, nodes);
    expect(written(sid, e, id, nodes)).toEqual(want);
  }
  // And it reads back: the agent's event with the store's sections merged in.
  const record = written(1, released, id, nodes);
  let at = 2;
  while ((record[at] as number) >= 0x80) at++;
  const back = decodeMessage<Event>('Event', record.subarray(at + 1));
  expect(back.journey).toEqual({ id, idx, cluster_ts: BigInt.asUintN(64, clusterTs), late, nodes });
});
