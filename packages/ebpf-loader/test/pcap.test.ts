// libpcap compilation gives exactly tcpdump's program.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapFilterError, compilePacketFilter } from '@retrace/ebpf-loader';

let dir = '';
let ethernetCapture = '';

beforeAll(() => {
  // An empty Ethernet capture: tcpdump compiles for a file exactly as for retrace's in-kernel use
  // (a live device would make libpcap use Linux's ancillary VLAN loads instead).
  dir = mkdtempSync(join(tmpdir(), 'rt-pcap-'));
  ethernetCapture = join(dir, 'empty.pcap');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  writeFileSync(ethernetCapture, header);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tcpdumpProgram(expr: string): { code: number; jt: number; jf: number; k: number }[] {
  // -ddd prints the compiled program in decimal.
  const r = spawnSync('tcpdump', ['-r', ethernetCapture, '-ddd', expr], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const lines = r.stdout.trim().split('\n').slice(1);
  return lines.map((l) => {
    const [code, jt, jf, k] = l.trim().split(/\s+/).map(Number);
    return { code: code ?? -1, jt: jt ?? -1, jf: jf ?? -1, k: (k ?? 0) >>> 0 };
  });
}

test.each([
  'udp port 53',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'host 10.1.2.3 and not port 22',
  'ip6 and icmp6',
  'vlan 100 and tcp portrange 8000-8100',
  'ether src 02:00:00:00:00:01',
  'greater 1000',
])('"%s" compiles to the same instructions as tcpdump', (expr) => {
  expect(compilePacketFilter(expr)).toEqual(tcpdumpProgram(expr));
});

test('a raw-IP link type compiles without link-layer offsets', () => {
  const eth = compilePacketFilter('ip and udp', { linkType: 'EN10MB' });
  const raw = compilePacketFilter('ip and udp', { linkType: 'RAW' });
  expect(raw).not.toEqual(eth);
  expect(raw.length).toBeGreaterThan(0);
});

test("a bad expression is refused with libpcap's own message and the expression", () => {
  let err: unknown;
  try {
    compilePacketFilter('tcp port eighty');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PcapFilterError);
  expect((err as PcapFilterError).expression).toBe('tcp port eighty');
  expect((err as Error).message).toMatch(/invalid packet filter 'tcp port eighty': .*eighty/);
  expect(() => compilePacketFilter('udp', { linkType: 'NOT_A_LINKTYPE' })).toThrow(/unknown link type/);
});
