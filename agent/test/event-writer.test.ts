// The agent's event writer writes, byte for byte, what the generated encoder writes: every event
// of retis's and our fixture files, events with every section and value the schema allows
// (defaults, optional zeros, negative and out-of-range numbers, non-ASCII and long text, long
// sections, tiny and huge events, bytes that are not canonical base64, fields a decode kept
// without knowing them), and random ones; into a buffer that grows, after other events.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtoWriter, decodeMessage, encodeMessage, parseLine, type Event } from '@retrace/events';
import { EventWriter } from '../src/link/event-writer.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../packages/events/test/fixtures');
const EVENTS_FIELD = 3;

function fixtureEvents(): Event[] {
  const files = [
    ...readdirSync(FIXTURES).filter((f) => f.endsWith('.jsonl')),
    ...readdirSync(join(FIXTURES, 'retis'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => join('retis', f)),
  ];
  const out: Event[] = [];
  for (const f of files)
    readFileSync(join(FIXTURES, f), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (text.trim() !== '') out.push(...[parseLine(text, i + 1)].flat());
      });
  return out;
}

/** What the generated encoder writes for `events`, one field each. */
function generated(events: Event[]): Buffer {
  const w = new ProtoWriter(16);
  for (const ev of events) w.messageField(EVENTS_FIELD, 'Event', ev);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

function written(events: Event[], w = new ProtoWriter(1)): Buffer {
  const writer = new EventWriter();
  for (const ev of events) writer.write(w, EVENTS_FIELD, ev);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

const expectSame = (events: Event[]): void => {
  for (const ev of events) expect(written([ev]).toString('hex')).toBe(generated([ev]).toString('hex'));
  expect(written(events).equals(generated(events))).toBe(true);
};

const packetOf = (bytes: number): Event['packet'] => ({
  len: bytes,
  capture_len: bytes,
  data: Buffer.alloc(bytes, 0xab).toString('base64'),
});

test('every event of the fixture files, with and without a k8s section', () => {
  const events = fixtureEvents();
  expect(events.length).toBeGreaterThan(150);
  const sections = new Set(events.flatMap((e) => Object.keys(e)));
  for (const s of ['common', 'kernel', 'skb-tracking', 'skb-drop', 'packet', 'skb', 'dev', 'netns', 'ct', 'ovs'])
    expect(sections).toContain(s);
  expectSame(events);
  expectSame(events.map((e) => ({ ...e, k8s: { node: 'node-1', namespace: 'ns', pod: 'pod-a', container: 'c' } })));
});

test('defaults are left out and proto3 optionals written, zero or not', () => {
  expectSame([
    {},
    { common: { timestamp: 0n } },
    { common: { timestamp: 0n, smp_id: 0, task: { pid: 0, tgid: 0, comm: '' } } },
    { kernel: { symbol: '', probe_type: '', stack_trace: [] } },
    { 'skb-tracking': { orig_head: 0n, timestamp: 0n, skb: 0n } },
    { 'skb-drop': { drop_reason: '', subsys: '' } },
    { packet: { len: 0, capture_len: 0, data: '' } },
    {
      skb: {
        vlan_accel: { proto: 0, pcp: 0, dei: false, vid: 0 },
        meta: { len: 0, data_len: 0, hash: 0, ip_summed: 0, csum: 0, csum_level: 0, priority: 0, mark: 0 },
        data_ref: { nohdr: false, cloned: false, fclone: 0, users: 0, dataref: 0 },
        gso: { flags: 0, frags: 0, segs: 0, size: 0, type: 0 },
      },
    },
    { dev: { name: '', ifindex: 0, rx_ifindex: 0 } },
    { netns: { cookie: 0n, inum: 0 } },
    { k8s: { node: '', namespace: '', pod: '', container: '' } },
    { skb: {} },
  ]);
});

test('numbers at and past their limits, and values the model does not type', () => {
  const odd = (v: unknown): never => v as never;
  expectSame([
    { common: { timestamp: 2n ** 64n - 1n, smp_id: 2 ** 32 - 1, task: { pid: -1, tgid: -(2 ** 31), comm: 'x' } } },
    { common: { timestamp: -5n, task: { pid: 2 ** 31 - 1, tgid: 7, comm: 'y' } } },
    { common: { timestamp: 2n ** 64n + 3n } },
    { common: { timestamp: odd(1234), smp_id: 1 } }, // a number where the model says bigint
    { common: { timestamp: 1n, task: { pid: -(2 ** 33), tgid: 1.5, comm: 'z' } } }, // not int32
    { common: { timestamp: 1n, smp_id: odd(1.7) } },
    { 'skb-tracking': { orig_head: 0xffff888012345678n, timestamp: 1n, skb: odd(5) } },
    { netns: { cookie: odd(7), inum: 4026531840 } },
    { dev: { name: 'eth0', ifindex: 2 ** 32 + 5, rx_ifindex: -1 } },
    { packet: { len: -1, capture_len: 2 ** 31, data: 'AAEC' } },
    { skb: { data_ref: { nohdr: odd(1), cloned: odd(0), fclone: 2, users: 300, dataref: 65537 } } },
  ]);
});

test('text that is not ASCII or is long, long sections, tiny and huge events', () => {
  const long = 'f'.repeat(200);
  expectSame([
    { kernel: { symbol: 'tcp_v4_rcv_é', probe_type: 'kprobe', stack_trace: ['a', 'ü'.repeat(70), long] } },
    { kernel: { symbol: long, probe_type: '', stack_trace: Array.from({ length: 300 }, (_, i) => `fn_${i}+0x1f`) } },
    { k8s: { node: 'ノード', namespace: 'ns', pod: 'p'.repeat(127) } },
    { k8s: { node: 'n', pod: 'p'.repeat(128) } },
    { 'skb-drop': { drop_reason: 'SKB_DROP_REASON_NOT_SPECIFIED', subsys: 'ovs' } },
    { common: { timestamp: 1n } }, // an event of a few bytes
    { common: { timestamp: 1n }, packet: packetOf(100) }, // a packet section of more than 127 bytes
    { common: { timestamp: 1n }, packet: packetOf(20_000) }, // an event of more than 16383 bytes
    { common: { timestamp: 1n }, packet: packetOf(3_000_000) },
  ]);
});

test('packet data that is not canonical base64, or not text', () => {
  const odd = (v: unknown): never => v as never;
  expectSame([
    { packet: { len: 3, capture_len: 3, data: 'AA EC' } },
    { packet: { len: 3, capture_len: 3, data: 'AAEC=' } },
    { packet: { len: 1, capture_len: 1, data: '=' } },
    { packet: { len: 1, capture_len: 1, data: 'AA' } },
    { packet: { len: 2, capture_len: 2, data: '-_8' } },
    { packet: { len: 3, capture_len: 3, data: odd(new Uint8Array([1, 2, 3])) } },
  ]);
});

test('sections the writer leaves to the generated encoder, and fields a decode kept unknown', () => {
  const unknown = Buffer.concat([encodeMessage('Event', { common: { timestamp: 5n } }), Buffer.from([0xf8, 0x7f, 1])]);
  const decoded = decodeMessage<Event>('Event', unknown);
  expectSame([
    decoded,
    {
      common: { timestamp: 9n },
      userspace: { probe_type: 'usdt', symbol: 's', ip: 1n, path: '/bin/x', pid: 1, tid: 2 },
      tracking: { skb: { orig_head: 1n, timestamp: 2n, skb: 3n }, idx: 4 },
      lost: { probe: 'kprobe/ip_rcv', count: 3n },
      journey: { id: 'node-1/abc', idx: 2, cluster_ts: 7n, late: true, nodes: 3 },
      k8s: { node: 'node-1' },
    },
  ]);
});

test('random events, written after one another into a buffer that grows', () => {
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) as number;
  const pick = <T>(...xs: T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const u32 = (): number => pick(0, 1, 127, 128, 16384, 2 ** 31, 2 ** 32 - 1, Math.floor(rnd() * 2 ** 32));
  const u64 = (): bigint =>
    pick(0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, BigInt(Math.floor(rnd() * 2 ** 53)) << 11n);
  const str = (): string => pick('', 'a', 'net:netif_receive_skb', 'é', 'x'.repeat(Math.floor(rnd() * 300)));
  const maybe = <T>(f: () => T): T | undefined => (rnd() < 0.5 ? f() : undefined);
  const events: Event[] = [];
  for (let i = 0; i < 3000; i++) {
    const ev: Record<string, unknown> = {};
    const set = (k: string, v: unknown): void => void (v !== undefined && (ev[k] = v));
    set(
      'common',
      maybe(() => ({ timestamp: u64(), ...(rnd() < 0.5 ? { smp_id: u32() } : {}) })),
    );
    set(
      'kernel',
      maybe(() => ({ symbol: str(), probe_type: str(), stack_trace: rnd() < 0.2 ? [str(), str()] : [] })),
    );
    set(
      'skb-tracking',
      maybe(() => ({ orig_head: u64(), timestamp: u64(), skb: u64() })),
    );
    set(
      'skb-drop',
      maybe(() => ({ drop_reason: str(), ...(rnd() < 0.5 ? { subsys: str() } : {}) })),
    );
    set(
      'packet',
      maybe(() => packetOf(Math.floor(rnd() * 300))),
    );
    set(
      'skb',
      maybe(() => ({
        meta: {
          len: u32(),
          data_len: u32(),
          hash: u32(),
          ip_summed: 0,
          csum: u32(),
          csum_level: 1,
          priority: 0,
          mark: u32(),
        },
      })),
    );
    set(
      'dev',
      maybe(() => ({ name: str(), ifindex: u32(), ...(rnd() < 0.5 ? { rx_ifindex: u32() } : {}) })),
    );
    set(
      'netns',
      maybe(() => ({ inum: u32(), ...(rnd() < 0.5 ? { cookie: u64() } : {}) })),
    );
    set(
      'k8s',
      maybe(() => ({ node: str(), ...(rnd() < 0.5 ? { namespace: str(), pod: str() } : {}) })),
    );
    events.push(ev as Event);
  }
  expectSame(events);
  // After what else a batch holds, at any place in a buffer.
  const w = new ProtoWriter(3);
  w.raw(Buffer.from('prefix'));
  const writer = new EventWriter();
  for (const ev of events) writer.write(w, EVENTS_FIELD, ev);
  expect(Buffer.from(w.buf.subarray(6, w.pos)).equals(generated(events))).toBe(true);
});
