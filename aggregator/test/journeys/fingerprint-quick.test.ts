// The fingerprint reads common packet shapes directly (Ethernet, IPv4, TCP / UDP / ICMP, VXLAN)
// instead of through PacketCursor's walk: it must come to the same fields, for whole packets and
// for every cut and damaged capture of them, or else the same packet seen on two nodes would not
// be stitched into one journey.
import { readPacketFieldsByCursor, readPacketFieldsFromBytes, type PacketFields } from '../../src/journeys/index.js';
import { ether, icmpEcho, ipv4, overVxlan, podPing, tcp, udp, vxlan, type Bytes } from './packets.js';

const keys: (keyof PacketFields)[] = [
  'version',
  'proto',
  'ident',
  'length',
  'frag',
  'fragId',
  'l4',
  'a',
  'b',
  'c',
  'payloadHash',
  'ttl',
  'keyLo',
  'keyHi',
];
const pick = (f: PacketFields | undefined): unknown[] | undefined => (f ? keys.map((k) => f[k]) : undefined);

function same(bytes: Uint8Array, start: number, end: number): void {
  const quick = pick(readPacketFieldsFromBytes(bytes, start, end));
  const walked = pick(readPacketFieldsByCursor(bytes, start, end));
  if (JSON.stringify(quick) !== JSON.stringify(walked))
    throw new Error(`${Buffer.from(bytes.subarray(start, end)).toString('hex')}: ${JSON.stringify({ quick, walked })}`);
}

const payload = Array.from({ length: 60 }, (_, i) => (i * 37) & 0xff);
const shapes: Bytes[] = [
  podPing(1),
  overVxlan(podPing(2)),
  ether(
    '00:00:00:00:00:01',
    '00:00:00:00:00:02',
    0x0800,
    ipv4(
      { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 7 },
      tcp({ sport: 80, dport: 43210, seq: 0xfffffff0, ack: 0x80000001, flags: 0x18 }, payload),
    ),
  ),
  ether(
    '00:00:00:00:00:01',
    '00:00:00:00:00:02',
    0x0800,
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 0, df: true }, udp(5353, 53, payload)),
  ),
  ether(
    '00:00:00:00:00:01',
    '00:00:00:00:00:02',
    0x0800,
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, id: 9 }, icmpEcho({ type: 3, id: 1, seq: 2 }, payload)),
  ),
  overVxlan(
    ether(
      '00:00:00:00:00:03',
      '00:00:00:00:00:04',
      0x0800,
      ipv4(
        { src: '10.1.0.1', dst: '10.1.0.2', proto: 6, id: 8 },
        tcp({ sport: 1, dport: 2, seq: 3, ack: 4, flags: 2 }, payload),
      ),
    ),
  ),
  // VXLAN in VXLAN, and VXLAN carrying something that is not IP
  overVxlan(overVxlan(podPing(3))),
  overVxlan(
    ether(
      '00:00:00:00:00:03',
      '00:00:00:00:00:04',
      0x0806,
      Array.from({ length: 28 }, (_, i) => i),
    ),
  ),
  // Geneve (left to the walk), a VLAN tag, IPv6: the walk's
  ether(
    '00:00:00:00:00:01',
    '00:00:00:00:00:02',
    0x0800,
    ipv4(
      { src: '1.1.1.1', dst: '2.2.2.2', proto: 17, id: 1 },
      udp(1000, 6081, [0, 0, 0x65, 0x58, 0, 0, 1, 0, ...podPing(4)]),
    ),
  ),
  ether('00:00:00:00:00:01', '00:00:00:00:00:02', 0x8100, [0, 5, 0x08, 0x00, ...podPing(5).slice(14)]),
  ether(
    '00:00:00:00:00:01',
    '00:00:00:00:00:02',
    0x0800,
    ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, id: 1 }, udp(4789, 4789, vxlan(1, []))),
  ),
];

test('whole packets of every shape: the same fields as the walk', () => {
  for (const s of shapes) same(Uint8Array.from(s), 0, s.length);
});

test('every cut of every packet, at any offset in a bigger buffer: the same fields as the walk', () => {
  for (const s of shapes) {
    const buf = Uint8Array.from([0xaa, 0xbb, ...s, 0xcc]);
    for (let end = 2; end <= s.length + 2; end++) same(buf, 2, end);
  }
});

test('damaged headers (every header byte set to telling values): the same fields as the walk', () => {
  const values = [
    0x00, 0x01, 0x05, 0x06, 0x08, 0x11, 0x12, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x4f, 0x50, 0x60, 0x7f, 0x80, 0xff,
  ];
  for (const s of shapes) {
    const n = Math.min(s.length, 14 + 20 + 24 + 14 + 20 + 24 + 16);
    for (let at = 0; at < n; at++)
      for (const v of values) {
        const b = Uint8Array.from(s);
        b[at] = v;
        same(b, 0, b.length);
      }
  }
});
