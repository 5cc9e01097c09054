// `retrace pcap` of retis's own test_events_packets.json gives what retis's pcap test expects of
// the same file (retis's .pcap itself is binary and not available here): one fake interface per
// probe, the packet bytes, the startup offset applied to the timestamps, and the event's text as
// the packet comment. tshark reads the file back as the judge.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRetrace } from '@retrace/e2e';
import { readCapture } from '@retrace/events';
import { tempDir } from './helpers/files.js';

const tmp = tempDir('rt-pcap-retis-');
afterAll(() => tmp.remove());
const FIXTURE = join(
  dirname(fileURLToPath(import.meta.url)),
  ...['..', '..', 'packages', 'events', 'test', 'fixtures', 'retis', 'retis.test_events_packets.jsonl'],
);

const REQUEST = Buffer.from(
  'fa5cbd8ecc01a6c211715945080045000054a3f940004001' +
    '1b49c0a87d0ac0a87d0b0800405a714c0001edfdd96700000000b31f0d0000000000' +
    '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
  'hex',
);

function tshark(file: string): string[][] | undefined {
  try {
    const out = execFileSync(
      'tshark',
      [
        '-r',
        file,
        '-T',
        'fields',
        '-E',
        'separator=|',
        '-e',
        'frame.interface_name',
        '-e',
        'frame.time_epoch',
        '-e',
        'frame.comment',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return out
      .trim()
      .split('\n')
      .map((l) => l.split('|'))
      .filter((f) => f[0] !== ''); // the custom block with the events' schema
  } catch {
    return undefined; // no tshark: the byte checks below still run
  }
}

const TEXT_FIRST = [
  '30419169061793 (6) [ping] 11330 [tp] net:net_dev_start_xmit #1baa83c42ba1ffff8e95c3b67c00 (skb ffff8e95d3009100)',
  '  192.168.125.10 > 192.168.125.11 tos 0x0 ttl 64 id 41977 off 0 [DF] len 84 proto ICMP (1) type 8 code 0',
  '  ns 0x3/4026532741 if 11 (veth-ns01)',
  '  skb [csum none len 98 priority 0 users 1 dataref 1]',
  '  ct_state NEW status 0x8 icmp orig [192.168.125.10 > 192.168.125.11 type 8 code 0 id 29004] reply [192.168.125.11 > 192.168.125.10 type 0 code 0 id 29004] zone 0 mark 0',
].join('\\n');
const TEXT_UPCALL_RET = [
  '30419169125909 (6) [ping] 11330 [kr] ovs_dp_upcall #1baa83c42ba1ffff8e95c3b67c00 (skb ffff8e95d3009100)',
  '  192.168.125.10 > 192.168.125.11 tos 0x0 ttl 64 id 41977 off 0 [DF] len 84 proto ICMP (1) type 8 code 0',
  '  ns 0x1/4026531840 if 10 (veth-ns01-ovs) rxif 10',
  '  skb [csum none hash 0x7e2c5976 len 98 priority 0 users 1 dataref 1]',
  '  upcall_ret (6/30419169098548) ret 0',
].join('\\n');

test('every packet event is exported; the first ones are those retis expects, text and time included', () => {
  const out = join(tmp.dir, 'all.pcapng');
  const r = runRetrace(['pcap', FIXTURE, '-o', out]);
  expect(r.code).toBe(0);
  const packets = readCapture(readFileSync(out));
  expect(packets).toHaveLength(26);
  expect(packets[0]?.data).toEqual(REQUEST);
  expect(packets[1]?.data).toEqual(REQUEST);
  const rows = tshark(out);
  if (!rows) return;
  expect(rows).toHaveLength(26);
  expect(rows[0]).toEqual(['raw_tracepoint/net:net_dev_start_xmit', '1742339565.860103793', TEXT_FIRST]);
  expect(rows[1]?.slice(0, 2)).toEqual(['raw_tracepoint/net:netif_receive_skb', '1742339565.860124348']);
});

test('-p kretprobe:ovs_dp_upcall keeps the two packets retis keeps', () => {
  const out = join(tmp.dir, 'upcall.pcapng');
  const r = runRetrace(['pcap', FIXTURE, '-p', 'kretprobe:ovs_dp_upcall', '-o', out]);
  expect(r.code).toBe(0);
  const packets = readCapture(readFileSync(out));
  expect(packets).toHaveLength(2);
  expect(packets[0]?.data).toEqual(REQUEST);
  const rows = tshark(out);
  if (!rows) return;
  expect(rows.map((row) => row.slice(0, 2))).toEqual([
    ['kretprobe/ovs_dp_upcall', '1742339565.860167909'],
    ['kretprobe/ovs_dp_upcall', '1742339565.860414774'],
  ]);
  expect(rows[0]?.[2]).toBe(TEXT_UPCALL_RET);
});
