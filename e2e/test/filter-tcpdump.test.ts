// tcpdump is the ground truth: for every expression and every capture of tcpdump's own test
// suite, the packets retrace's translated eBPF accepts (run by the kernel, verifier and JIT
// included, through BPF_PROG_TEST_RUN) are exactly those `tcpdump -r CAPTURE EXPR` accepts, in
// each way the translation reads packets (direct loads where this kernel has them, the header
// copy, a helper call per load).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FilterRunner, TEST_RUN_MAX, compileFilter } from '@retrace/agent';
import { probeFeatures } from '@retrace/ebpf-loader';
import { readCapture, type CapturedPacket } from '@retrace/events';
import { tcpdumpMatches } from './helpers.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tcpdump-pcap');
const CAPTURES = readdirSync(DIR).filter((f) => f.endsWith('.pcap'));
const packets = new Map<string, CapturedPacket[]>(CAPTURES.map((f) => [f, readCapture(readFileSync(join(DIR, f)))]));
const tmp = mkdtempSync(join(tmpdir(), 'rt-filter-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MODES = {
  direct: { direct: true },
  prefetch: { prefetch: true },
  helper: { prefetch: false },
};
type Mode = keyof typeof MODES;
const modes = (Object.keys(MODES) as Mode[]).filter((m) => m !== 'direct' || probeFeatures().direct_packet.available);

export const EXPRESSIONS = [
  'ip',
  'ip6',
  'arp',
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'sctp',
  'igmp',
  'vrrp',
  'host 10.0.0.1',
  'src host 192.168.1.1',
  'dst host 224.0.0.5',
  'net 10.0.0.0/8',
  'src net 192.168.0.0/16',
  'dst net 172.16.0.0/12',
  'port 53',
  'port 179',
  'src port 123',
  'dst port 80',
  'tcp port 443',
  'udp port 67 or udp port 68',
  'portrange 1-1023',
  'tcp portrange 8000-9000',
  'udp dst portrange 5000-6000',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'tcp[tcpflags] & tcp-rst != 0',
  'tcp[tcpflags] == tcp-ack',
  'tcp[13] & 8 != 0',
  'ip[8] < 64',
  'ip[1] & 0xfc != 0',
  'ip[6:2] & 0x1fff != 0',
  'ip[2:2] > 1000',
  'ip[9] == 17',
  'icmp[icmptype] == icmp-echo',
  'icmp[icmptype] == icmp-echoreply or icmp[icmptype] == icmp-unreach',
  'icmp6 and ip6[40] == 135',
  'ip6 and tcp',
  'ip6 and udp port 547',
  'vlan',
  'vlan 100',
  'vlan and ip',
  'mpls',
  'pppoes',
  'not ip',
  'not tcp and not udp',
  'tcp and not port 22',
  '(tcp or udp) and not ip6',
  'ip and (port 53 or port 123)',
  'len > 500',
  'len <= 64',
  'greater 1000',
  'less 100',
  'ip and len >= 1400',
  'ether host 00:00:0c:07:ac:01',
  'ether src 00:1b:21:12:34:56',
  'ether broadcast',
  'ether multicast',
  'ether proto 0x88cc',
  'ip multicast',
  'ip proto 47',
  'ip6 proto 58',
  'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420',
  'udp[8:2] == 0x0100',
  'ip[16] == 255',
  'ip[0] & 0xf != 5',
  'proto \\ospf',
  'ip6 multicast',
  'esp or ah',
];

let pairs = 0;
let packetsCompared = 0;
let skippedLarge = 0;

test.each(EXPRESSIONS)('%s: the kernel accepts exactly the packets tcpdump accepts, in every capture', (expr) => {
  const runners = modes.map((m) => [m, new FilterRunner(compileFilter(expr, MODES[m]))] as const);
  const mismatches: string[] = [];
  try {
    for (const capture of CAPTURES) {
      const want = tcpdumpMatches(join(DIR, capture), expr, packets.get(capture) ?? [], tmp);
      if (!want) continue;
      pairs++;
      for (const p of packets.get(capture) ?? []) {
        if (p.caplen > TEST_RUN_MAX) {
          skippedLarge++;
          continue;
        }
        packetsCompared++;
        for (const [mode, runner] of runners) {
          const got = runner.matches({ data: p.data, len: p.len });
          if (got !== want.has(p.number))
            mismatches.push(`${capture}#${p.number} (${mode} loads): retrace ${got}, tcpdump ${!got}`);
        }
      }
    }
  } finally {
    for (const [, runner] of runners) runner.close();
  }
  expect(mismatches.slice(0, 10)).toEqual([]);
});

test('report', () => {
  console.info(
    `filter ground truth: ${EXPRESSIONS.length} expressions x ${CAPTURES.length} captures = ${pairs} (expression, capture) pairs checked, ${packetsCompared} packet verdicts compared in each of ${modes.length} load modes (${modes.join(', ')}), ${skippedLarge} over ${TEST_RUN_MAX} bytes not compared`,
  );
  expect(pairs).toBeGreaterThanOrEqual(60 * CAPTURES.length * 0.9);
  // Where the kernel has the direct mode, it is the one probes use: it must be among those run.
  if (probeFeatures().direct_packet.available) expect(modes).toContain('direct');
});
