// collect -o FILE's lines (the native formatter, and JS for what it hands back) are exactly
// stringifyEvent(decode(record)), on records of every shape: random fields and section bits,
// text that needs escapes or is not ASCII, drop reasons of every kind, bad records.
import {
  RecordDecoder,
  RecordJsonWriter,
  RecordLines,
  JsonTemplate,
  TemplateError,
  collectorSections,
  loadLayouts,
  partPlace,
  Sec,
  type ProbeIdentity,
} from '@retrace/agent';
import { KernelBtf, RecordBatch } from '@retrace/ebpf-loader';
import { stringifyEvent } from '@retrace/events';

const layouts = loadLayouts();
const L = layouts.event;
const field = (n: string): { offset: number; size: number } => {
  const f = L.fields[n];
  if (!f) throw new Error(`no ${n}`);
  return f;
};

const PROBES: ProbeIdentity[] = [
  { symbol: 'net:netif_receive_skb', probeType: 'raw_tracepoint' },
  { symbol: 'skb:kfree_skb', probeType: 'raw_tracepoint' },
  { symbol: 'dpif_recv:recv_upcall', probeType: 'usdt', path: '/usr/sbin/ovs-vswitchd' },
];
const stack = (id: number): string[] | undefined => (id >= 0 ? ['ip_rcv+0x10', 'net_rx_action+0x2'] : undefined);

/** A small seeded generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const BASE_BITS = [
  Sec.TRACKING,
  Sec.DROP,
  Sec.DEV,
  Sec.NETNS,
  Sec.SKB,
  Sec.PACKET,
  Sec.DROP_NO_REASON,
  Sec.VLAN,
  Sec.RX_IFINDEX,
  Sec.NETNS_COOKIE,
];
const dropValues = [...(KernelBtf.vmlinux().enumValues('skb_drop_reason') ?? new Map<string, bigint>()).values()].map(
  Number,
);

function text(r: () => number, max: number): Buffer {
  const b = Buffer.alloc(max);
  const n = Math.floor(r() * (max + 1));
  const pick = r();
  for (let i = 0; i < n; i++) {
    // Mostly printable ASCII; some quotes, backslashes and control bytes; now and then UTF-8.
    const c = r();
    b[i] = c < 0.8 ? 0x20 + Math.floor(r() * 95) : c < 0.85 ? 0x22 : c < 0.9 ? 0x5c : 1 + Math.floor(r() * 31);
    if (pick < 0.05) b[i] = 0x80 + Math.floor(r() * 0x40);
  }
  if (pick > 0.05 && pick < 0.1) b.write('é', 0, 'utf8');
  return b;
}

/** A record of the base layout (and room for the parts), every byte random, then made plausible. */
function randomRecord(r: () => number, withParts: boolean): Buffer {
  const b = Buffer.alloc(L.size + (withParts ? layouts.parts.size : 0));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  b.writeUInt16LE(r() < 0.01 ? 2 : 1, field('version').offset);
  b.writeUInt32LE(r() < 0.01 ? 7 : Math.floor(r() * 2), field('probe_id').offset);
  let present = 0;
  for (const bit of BASE_BITS) if (r() < 0.6) present |= bit;
  if (r() < 0.03) present |= Sec.STACK;
  if (r() < 0.02) {
    present |= Sec.USERSPACE;
    b.writeUInt32LE(2, field('probe_id').offset);
  }
  if (withParts && r() < 0.3) present |= partPlace(layouts, 'ct').bit;
  b.writeUInt32LE(present, field('present').offset);
  b.writeInt32LE(r() < 0.5 ? -1 : 3, field('stack_id').offset);
  text(r, 16).copy(b, field('comm').offset);
  text(r, 16).copy(b, field('dev_name').offset);
  const packet = field('packet');
  b.writeUInt32LE(r() < 0.02 ? packet.size + 1 : Math.floor(r() * (packet.size + 1)), field('capture_len').offset);
  const reason =
    r() < 0.6 ? (dropValues[Math.floor(r() * dropValues.length)] ?? 0) : r() < 0.5 ? (3 << 16) | 2 : b.readUInt32LE(0);
  b.writeUInt32LE(reason >>> 0, field('drop_reason').offset);
  if (r() < 0.3) b.writeUInt16LE(0, field('gso_size').offset);
  if (r() < 0.3) b.writeUInt8(0, field('nr_frags').offset);
  if (r() < 0.1) b.writeBigUInt64LE(BigInt(Math.floor(r() * 1000)), field('timestamp').offset);
  return b;
}

function batchOf(records: Buffer[]): RecordBatch {
  const offs = new Uint32Array(records.length * 2);
  let at = 0;
  records.forEach((rec, i) => {
    offs[2 * i] = at;
    offs[2 * i + 1] = rec.length;
    at += (rec.length + 7) & ~7;
  });
  const data = Buffer.alloc(at + 512);
  records.forEach((rec, i) => rec.copy(data, offs[2 * i]));
  return new RecordBatch(data, offs, records.length);
}

function setup(
  collectors: string[],
  skbSections?: Set<string>,
  bufferBytes?: number,
): {
  lines: RecordLines;
  out: string[];
  expected: (b: RecordBatch, i: number) => string | Error;
} {
  const sections = collectorSections(layouts, collectors, skbSections ? { skbSections } : {});
  const decoder = new RecordDecoder(layouts, PROBES, sections, stack);
  const writer = new RecordJsonWriter(layouts, PROBES, sections, stack);
  const out: string[] = [];
  const lines = new RecordLines(
    layouts,
    PROBES,
    sections,
    { writer, decoder },
    ({ buf, ends, count }) => {
      for (let i = 0; i < count; i++) out.push(buf.toString('utf8', i ? ends[i - 1] : 0, (ends[i] as number) - 1));
    },
    bufferBytes,
  );
  const expected = (b: RecordBatch, i: number): string | Error => {
    try {
      return stringifyEvent(decoder.decode(b.view, b.buffer, b.offset(i), b.length(i)));
    } catch (e) {
      return e as Error;
    }
  };
  return { lines, out, expected };
}

/** Writes the batch in uneven pieces; lines and errors in record order against the decoder's. */
function check(s: ReturnType<typeof setup>, b: RecordBatch, r: () => number): void {
  const errors: Error[] = [];
  let i = 0;
  while (i < b.count) {
    const to = Math.min(b.count, i + 1 + Math.floor(r() * 300));
    s.lines.write(b, i, to, (e) => errors.push(e));
    i = to;
  }
  s.lines.flush();
  const want = Array.from({ length: b.count }, (_, k) => s.expected(b, k));
  expect(s.out).toEqual(want.filter((w): w is string => typeof w === 'string'));
  expect(errors.map((e) => e.message)).toEqual(
    want.filter((w): w is Error => w instanceof Error).map((e) => e.message),
  );
}

test.each([
  ['the sections collect writes by default', ['skb-tracking', 'skb-drop', 'skb', 'dev', 'ns'], new Set(['packet'])],
  ['every skb section', ['skb-tracking', 'skb-drop', 'skb', 'dev', 'ns'], undefined],
  ['no skb collector', ['skb-tracking', 'dev'], undefined],
])('random records, %s: every line as the decoder writes it, bad records reported alike', (_, collectors, skb) => {
  const r = rng(collectors.length * 7919 + (skb ? 1 : 0));
  const s = setup(collectors, skb, 1 << 14);
  const records = Array.from({ length: 3000 }, () => randomRecord(r, false));
  check(s, batchOf(records), r);
  // Most records need no JS: only stacks, USDT, text that is not ASCII and bad records do.
  expect(s.lines.written.native).toBeGreaterThan(s.out.length * 0.75);
  expect(s.lines.written.js).toBeGreaterThan(0);
});

test('records with a part that has no template (ct) are written in JS, the others natively', () => {
  const r = rng(42);
  const s = setup(['skb-tracking', 'skb', 'dev', 'ns', 'ct']);
  const records = Array.from({ length: 1500 }, () => randomRecord(r, true));
  check(s, batchOf(records), r);
  const withCt = records.filter((rec) => rec.readUInt32LE(field('present').offset) & partPlace(layouts, 'ct').bit);
  expect(s.lines.written.js).toBeGreaterThanOrEqual(withCt.length * 0.9);
  expect(s.lines.written.native).toBeGreaterThan(0);
});

test("lines given with line() keep their place among the records' lines", () => {
  const r = rng(7);
  const s = setup(['skb-tracking', 'dev'], undefined, 1 << 12);
  const b = batchOf(
    Array.from({ length: 40 }, () => {
      const rec = randomRecord(r, false);
      rec.writeUInt16LE(1, field('version').offset);
      rec.writeUInt32LE(0, field('probe_id').offset);
      rec.writeUInt32LE(Sec.TRACKING | Sec.DEV, field('present').offset);
      rec.write('eth0\0', field('dev_name').offset);
      return rec;
    }),
  );
  const fail = (e: Error): never => {
    throw e;
  };
  s.lines.write(b, 0, 20, fail);
  s.lines.line('{"emitted":1}');
  s.lines.write(b, 20, 40, fail);
  s.lines.line('{"emitted":2}');
  s.lines.flush();
  const want = Array.from({ length: 40 }, (_, k) => s.expected(b, k) as string);
  expect(s.out).toEqual([...want.slice(0, 20), '{"emitted":1}', ...want.slice(20), '{"emitted":2}']);
});

test('templates refuse fields they cannot read as numbers, naming the field', () => {
  const t = new JsonTemplate({ off: 8, size: 4 });
  expect(() => t.num({ off: 32, size: 16 })).toThrow(TemplateError);
  expect(() => t.num({ off: 16, size: 8 }, 3)).toThrow(/a number of a 8-byte field at 16/);
  expect(() => t.table({ off: 16, size: 8 }, () => '')).toThrow(/templates read 1, 2, 4 bytes/);
});
