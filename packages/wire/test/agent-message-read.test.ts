// The aggregator reads an agent's messages as the generated decode with the batch's events left
// encoded reads them: the same fields, the same events' bytes, the same unknown fields kept, the
// same error for malformed input, on well-formed messages of every kind, batches whose fields
// come in any order or with a wire type the schema does not give them, and damaged ones.
import { decodeMessage, encodeMessage, type AgentMessage, type Event } from '@retrace/events';
import { AgentLinkService } from '../src/index.js';

const read = (AgentLinkService['Connect'] as unknown as { requestDeserialize: (b: Buffer) => AgentMessage })
  .requestDeserialize;
const generated = (b: Buffer): AgentMessage =>
  decodeMessage<AgentMessage>('AgentMessage', b, { raw: new Set(['EventBatch.events']) });

/** A message as comparable text: bigints and bytes spelled out, unknown fields included, fields in name order. */
function text(m: unknown): string {
  return JSON.stringify(m, function (this: Record<string, unknown>, k, v: unknown) {
    const raw = this[k]; // (before a Buffer's toJSON)
    if (typeof v === 'bigint') return `${v}n`;
    if (raw instanceof Uint8Array) return `bytes:${Buffer.from(raw).toString('hex')}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const unknowns = (v as { $unknowns?: Uint8Array[] }).$unknowns;
      const o: Record<string, unknown> = { ...v };
      if (unknowns) o['$unknowns'] = unknowns.map((u) => Buffer.from(u).toString('hex'));
      return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

/** Both read `b` alike: the same message, or the same error. */
function same(b: Buffer): void {
  let want: string;
  try {
    want = text(generated(b));
  } catch (e) {
    expect(() => read(b)).toThrow((e as Error).message);
    return;
  }
  const got = text(read(b));
  if (got !== want) throw new Error(`read differently: ${b.toString('hex').slice(0, 80)}…`);
}

const event = (i: number): Event => ({
  common: { timestamp: BigInt(1_000_000 + i), smp_id: i % 4 },
  kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
  packet: { len: 60, capture_len: 60, data: Buffer.alloc(60, i).toString('base64') },
  k8s: { node: 'node-a' },
});
const enc = (m: AgentMessage): Buffer => encodeMessage('AgentMessage', m);
const batchOf = (fields: Buffer): Buffer => Buffer.concat([Buffer.from([0x1a]), varint(fields.length), fields]);
function varint(v: number): Buffer {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
const eventField = (i: number): Buffer => {
  const e = encodeMessage('Event', event(i));
  return Buffer.concat([Buffer.from([0x1a]), varint(e.length), e]);
};

const messages: Buffer[] = [
  enc({ register: { protocol: 1, node: 'node-a', kernel_release: '6.1', version: 'v', incarnation: 'r1' } }),
  enc({ heartbeat: { sent_ns: 12n } }),
  enc({ batch: { trace: 'ns/t', seq: 7n, events: [] } }),
  enc({
    batch: {
      trace: 'ns/t',
      seq: 2n ** 63n,
      events: Array.from({ length: 50 }, (_, i) => event(i)),
      lost: [{ probe: 'kprobe/ip_rcv', count: 3n }],
      losses: [{ cause: 'backpressure', count: 9n }],
    },
  }),
  // The agent's own layout: events first, the batch's header after them.
  batchOf(
    Buffer.concat([
      eventField(1),
      eventField(2),
      encodeMessage('EventBatch', { trace: 't', seq: 3n, lost: [{ probe: 'p', count: 1n }] }),
    ]),
  ),
  // Fields in any order, repeated, and an events field of another wire type (an unknown field).
  batchOf(
    Buffer.concat([
      encodeMessage('EventBatch', { trace: 'first', seq: 1n }),
      eventField(3),
      Buffer.from([0x18, 0x05]), // events as a varint
      encodeMessage('EventBatch', { trace: 'second', losses: [{ cause: 'budget', count: 2n }] }),
      eventField(4),
      Buffer.from([0xf8, 0x07, 0x2a]), // field 127, a varint
      Buffer.from([0xfd, 0x07, 1, 2, 3, 4]), // field 127, 4 bytes
      Buffer.from([0xf9, 0x07, 1, 2, 3, 4, 5, 6, 7, 8]), // field 127, 8 bytes
    ]),
  ),
  // Groups (the scan leaves them to the generated decode).
  batchOf(Buffer.concat([eventField(5), Buffer.from([0xfb, 0x07, 0xfc, 0x07])])),
];

test('well-formed messages read as the generated decode reads them', () => {
  for (const m of messages) same(m);
  const batch = read(messages[3] as Buffer).batch;
  expect(batch?.events).toHaveLength(50);
  expect(decodeMessage<Event>('Event', batch?.events?.[7] as unknown as Uint8Array)).toEqual(
    decodeMessage<Event>('Event', encodeMessage('Event', event(7))),
  );
});

test('malformed messages are refused with the same error: truncated, overlong, field 0, bad lengths', () => {
  const whole = messages[4] as Buffer;
  for (let cut = 1; cut < whole.length; cut += 7) same(whole.subarray(0, cut));
  same(batchOf(Buffer.from([0x00, 0x01])));
  same(
    batchOf(
      Buffer.concat([
        eventField(1),
        Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      ]),
    ),
  );
  same(batchOf(Buffer.from([0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
  same(batchOf(Buffer.from([0x0f])));
  same(batchOf(Buffer.from([0x12, 0x03, 0x80, 0x80])));
});

test('randomly damaged batches read as the generated decode reads them', () => {
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (const m of [messages[3], messages[4], messages[5]] as Buffer[])
    for (let k = 0; k < 400; k++) {
      const b = Buffer.from(m);
      for (let j = 0; j <= rnd(3); j++) b[rnd(b.length)] = rnd(256);
      same(b);
    }
});
