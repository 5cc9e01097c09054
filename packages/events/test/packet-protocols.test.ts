// The protocols the walk reads beyond the common ones: SCTP, ESP, AH after IPv4, MACsec, RARP
// and Geneve options, on real captures (tcpdump's test suite) and on built packets that tshark
// decodes to the same fields (tshark is the ground truth when installed; the recorded values
// otherwise).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapngWriter, formatPacket, parsePacket } from '../src/index.js';
import { readCapture } from '../src/capture-reader.js';
import { FIXTURES } from './helpers/fixtures.js';
import { ahHeader, buf, ether, ipv4, tcp, type Bytes } from './helpers/packet-builder.js';
import { tsharkFields } from './helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'rt-protocols-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const capture = (name: string): Buffer[] =>
  readCapture(readFileSync(join(FIXTURES, 'protocols', name))).map((p) => p.data);

/** tshark's fields of every packet of a capture; undefined when tshark is not installed. */
const tshark = (file: string, fields: string[]): string[][] | undefined => tsharkFields(file, fields);

/** Built packets written as a capture tshark can read. */
function written(name: string, frames: Buffer[]): string {
  const w = new PcapngWriter();
  for (const f of frames) w.add({ iface: 'x', timestampNs: 0n, data: f, origLen: f.length });
  const file = join(dir, name);
  writeFileSync(file, w.toBuffer());
  return file;
}

const be32 = (n: number): Bytes => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const be16 = (n: number): Bytes => [(n >>> 8) & 0xff, n & 0xff];

test('ESP: spi and sequence number, like tshark; the line says no more than that', () => {
  const frames = capture('02-sunrise-sunset-esp.pcap');
  const ours = frames.map((f) => {
    const l4 = parsePacket(f).l4;
    return l4?.proto === 'esp' ? [`0x${l4.spi.toString(16)}`, String(l4.seq)] : [];
  });
  expect(ours.slice(0, 3)).toEqual([
    ['0x12345678', '1'],
    ['0x12345678', '2'],
    ['0x12345678', '3'],
  ]);
  const theirs = tshark(join(FIXTURES, 'protocols', '02-sunrise-sunset-esp.pcap'), ['esp.spi', 'esp.sequence']);
  if (theirs) expect(ours).toEqual(theirs);
  const p = parsePacket(frames[0] ?? Buffer.alloc(0));
  expect(p.notes).toEqual([]);
  expect(formatPacket(p)).toBe(
    '192.1.2.23 > 192.1.2.45 tos 0x0 ttl 64 id 65383 off 0 len 136 proto ESP (50) spi 0x12345678 seq 0x1',
  );
});

test('MACsec with encrypted or changed data: the SecTAG, and no guess at what follows', () => {
  for (const [name, pn, sci, flags] of [
    ['macsec-encrypted.pcap', 72, '2eb73f3995c30001', 'ECI'],
    ['macsec-changed.pcap', 6, '2eb73f3995c3006f', 'CI'],
  ] as const) {
    const p = parsePacket(capture(name)[0] ?? Buffer.alloc(0));
    expect(p.macsec).toMatchObject({ an: 0, pn, sci, opaque: true });
    expect(p.ip).toBeUndefined();
    expect(p.notes).toEqual([]);
    expect(formatPacket(p)).toBe('802.1AE MACsec frame');
    expect(formatPacket(p, { link: true })).toContain(
      `ethertype MACsec (0x88e5) MACsec an 0 pn ${pn} flags [${flags}] sci 0x${sci}`,
    );
    const theirs = tshark(join(FIXTURES, 'protocols', name), ['macsec.PN', 'macsec.AN']);
    if (theirs) expect(theirs[0]?.map(Number)).toEqual([pn, 0]);
  }
});

test('MACsec in the clear: the walk goes on into the user data, as tshark does', () => {
  const inner = ipv4(
    { src: '10.1.0.1', dst: '10.1.0.2', proto: 6, id: 3 },
    tcp({ sport: 1000, dport: 22, flags: 2, seq: 5 }),
  );
  // TCI: SC set (SCI present), AN 1; short length 0; PN 9; SCI; then the ethertype.
  const tag = [0x21, 0, ...be32(9), 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x01, ...be16(0x0800)];
  const frame = buf(ether({ type: 0x88e5 }, [...tag, ...inner, ...new Array<number>(16).fill(0)]));
  const p = parsePacket(frame);
  expect(p.macsec).toMatchObject({ an: 1, pn: 9, sci: '0211223344550001', opaque: false });
  expect(p.l4).toMatchObject({ proto: 'tcp', sport: 1000, dport: 22, seq: 5 });
  expect(formatPacket(p)).toMatch(/^10\.1\.0\.1\.1000 > 10\.1\.0\.2\.22 /);
  const theirs = tshark(written('macsec-clear.pcapng', [frame]), ['macsec.PN', 'ip.src', 'tcp.dstport']);
  if (theirs) expect(theirs).toEqual([['9', '10.1.0.1', '22']]);
});

function sctp(sport: number, dport: number, vtag: number, chunks: Bytes[]): Bytes {
  return [...be16(sport), ...be16(dport), ...be32(vtag), 0, 0, 0, 0, ...chunks.flat()];
}
/** A chunk: type, flags, length (header included), value padded to 4 bytes. */
const chunk = (type: number, value: Bytes): Bytes => {
  const pad = new Array<number>((4 - (value.length % 4)) % 4).fill(0);
  return [type, 0, ...be16(4 + value.length), ...value, ...pad];
};

test('SCTP: ports, verification tag and chunk types, like tshark', () => {
  const init = chunk(1, [...be32(0xdeadbeef), ...be32(65536), ...be16(10), ...be16(10), ...be32(1)]);
  const data = chunk(0, [...be32(7), ...be16(0), ...be16(0), ...be32(0), 1, 2, 3]);
  const sack = chunk(3, [...be32(6), ...be32(65536), 0, 0, 0, 0]);
  const frames = [
    buf(
      ether(
        { type: 0x0800 },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 132, id: 1 }, sctp(36412, 38412, 0, [init])),
      ),
    ),
    buf(
      ether(
        { type: 0x0800 },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 132, id: 2 }, sctp(36412, 38412, 0xdeadbeef, [data, sack])),
      ),
    ),
  ];
  const ours = frames.map((f) => {
    const l4 = parsePacket(f).l4;
    return l4?.proto === 'sctp'
      ? [String(l4.sport), String(l4.dport), `0x${l4.vtag.toString(16).padStart(8, '0')}`, l4.chunks.join(',')]
      : [];
  });
  expect(ours).toEqual([
    ['36412', '38412', '0x00000000', '1'],
    ['36412', '38412', '0xdeadbeef', '0,3'],
  ]);
  const theirs = tshark(written('sctp.pcapng', frames), [
    'sctp.srcport',
    'sctp.dstport',
    'sctp.verification_tag',
    'sctp.chunk_type',
  ]);
  if (theirs) expect(theirs).toEqual(ours);
  const p = parsePacket(frames[1] ?? Buffer.alloc(0));
  expect(p.notes).toEqual([]);
  expect(formatPacket(p)).toBe(
    '10.0.0.1.36412 > 10.0.0.2.38412 tos 0x0 ttl 64 id 2 off 0 len 68 proto SCTP (132) vtag 0xdeadbeef chunks [DATA,SACK]',
  );
});

test('AH after IPv4: spi, sequence and ICV, then the transport it protects', () => {
  const frame = buf(
    ether(
      { type: 0x0800 },
      ipv4(
        { src: '10.0.0.1', dst: '10.0.0.2', proto: 51, id: 4 },
        ahHeader(6, 0x1000, 7, tcp({ sport: 5, dport: 80, flags: 0x12, seq: 1, ack: 2 })),
      ),
    ),
  );
  const p = parsePacket(frame);
  expect(p.ip?.version === 4 && p.ip.ah).toEqual({ spi: 0x1000, seq: 7, icv: 'aa'.repeat(12), next: 6 });
  expect(p.l4).toMatchObject({ proto: 'tcp', sport: 5, dport: 80, flags: 0x12 });
  expect(formatPacket(p)).toBe(
    '10.0.0.1.5 > 10.0.0.2.80 tos 0x0 ttl 64 id 4 off 0 len 64 proto AH (51) spi 0x00001000 seq 0x7 icv 0xaaaaaaaaaaaaaaaaaaaaaaaa proto TCP (6) flags [S.] seq 1 ack 2 win 0',
  );
  const theirs = tshark(written('ah4.pcapng', [frame]), ['ah.spi', 'ah.sequence', 'tcp.srcport', 'tcp.dstport']);
  if (theirs) expect(theirs).toEqual([['0x00001000', '7', '5', '80']]);
});

test('RARP: reverse request and reply, in tcpdump words', () => {
  const rarp = (op: number, tha: Bytes, tpa: Bytes): Buffer =>
    buf(
      ether({ type: 0x8035 }, [0, 1, 8, 0, 6, 4, 0, op, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0, 0, 0, ...tha, ...tpa]),
    );
  const req = rarp(3, [0, 0x11, 0x22, 0x33, 0x44, 0x55], [0, 0, 0, 0]);
  const rep = rarp(4, [0, 0x11, 0x22, 0x33, 0x44, 0x55], [10, 0, 0, 9]);
  expect(formatPacket(parsePacket(req))).toBe('reverse request who-is 00:11:22:33:44:55 tell 00:11:22:33:44:55');
  expect(formatPacket(parsePacket(rep))).toBe('reverse reply 00:11:22:33:44:55 at 10.0.0.9');
  const theirs = tshark(written('rarp.pcapng', [req, rep]), ['arp.opcode', 'arp.dst.proto_ipv4']);
  if (theirs)
    expect(theirs).toEqual([
      ['3', '0.0.0.0'],
      ['4', '10.0.0.9'],
    ]);
});
