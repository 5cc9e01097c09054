// `retrace filter`: the packet numbers the in-kernel filter accepts, as tcpdump numbers a file.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRetrace } from '@retrace/e2e';
import { compileFilter, translateFilter, FilterTranslationError } from '@retrace/agent';
import { readCapture } from '@retrace/events';
import { tcpdumpMatches, tempDir } from './helpers.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tcpdump-pcap');
const tmp = tempDir();
afterAll(() => tmp.remove());

test.each([
  ['bgp-4byte-asn.pcap', 'tcp port 179'],
  ['dns-zlip-1.pcap', 'udp port 53'],
  ['pim-packet-assortment.pcap', 'ip and not igmp'],
])('%s with %s prints the numbers tcpdump accepts', (file, expr) => {
  const r = runRetrace(['filter', '-f', expr, join(DIR, file)]);
  expect(r.code).toBe(0);
  const ours = r.stdout.trim().split('\n').filter(Boolean).map(Number);
  const want = tcpdumpMatches(join(DIR, file), expr, readCapture(readFileSync(join(DIR, file))), tmp.dir);
  expect(ours).toEqual([...(want ?? [])]);
  expect(ours.length).toBeGreaterThan(0);
});

test('a bad expression gets libpcap own message with the expression', () => {
  const r = runRetrace(['filter', '-f', 'tcp port eighty', join(DIR, 'bgp-4byte-asn.pcap')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/invalid packet filter 'tcp port eighty': unknown port 'eighty'/);
});

test('a file that is not a capture is named as such', () => {
  const r = runRetrace(['filter', '-f', 'tcp', join(DIR, '..', '..', 'README.md')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/not a pcap or pcap-ng file/);
});

test('expressions that need the link layer have no L3 variant; others have both', () => {
  expect(compileFilter('ether host 00:00:0c:07:ac:01').l3Unavailable).toMatch(/link-layer/);
  const f = compileFilter('tcp port 80');
  expect(f.l3).toBeDefined();
  expect(f.cbpfInstructions).toBeGreaterThan(5);
});

test('a filter too long for a probe is refused with the instruction counts', () => {
  const long = Array.from({ length: 300 }, (_, i) => `tcp[${i * 2}:2] == ${i}`).join(' or ');
  expect(() => compileFilter(long)).toThrow(FilterTranslationError);
  expect(() => compileFilter(long)).toThrow(
    /compiles to \d+ classic BPF instructions, \d+ eBPF instructions; at most 4096/,
  );
  expect(() => translateFilter([])).toThrow(/empty/);
});
