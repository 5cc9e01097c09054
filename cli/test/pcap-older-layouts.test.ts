// `retrace pcap` on files of older retis versions: events that describe headers field by field
// (flat skb, 1.5's nested skb) are exported as rebuilt headers, not skipped.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runRetrace } from '@retrace/e2e';
import { readCapture } from '@retrace/events';
import { fixture, tempDir } from './helpers/files.js';

const tmp = tempDir('rt-pcap-old-');
afterAll(() => tmp.remove());
const FIXTURE = fixture('test_events.jsonl');

/** The enhanced packet blocks of a pcap-ng file, read back as a capture. */
const packets = (file: string): Buffer[] => readCapture(readFileSync(file)).map((p) => p.data);

test('the flat skb events of retis files are exported, one packet each', () => {
  const out = join(tmp.dir, 'flat.pcapng');
  const r = runRetrace(['pcap', FIXTURE, '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('4 packet(s) from 4 probe(s)');
  expect(r.stderr).toContain('0 event(s) without packet bytes skipped');
  expect(packets(out)).toHaveLength(4);
});

test('a retis 1.5 event (nested skb, raw packet inside) is exported with its own bytes', () => {
  const frame = Buffer.from('ffffffffffff0011223344550800450000140001000040110000' + '0a0000010a000002', 'hex');
  const events = join(tmp.dir, 'v15.json');
  writeFileSync(
    events,
    [
      JSON.stringify({ common: { timestamp: 1 }, startup: { retis_version: 'v1.5.2' } }),
      JSON.stringify({
        common: { timestamp: 2 },
        kernel: { probe_type: 'kprobe', symbol: 'ip_rcv' },
        skb: {
          ns: { netns: 4026531840 },
          dev: { name: 'eth0', ifindex: 2 },
          packet: { len: frame.length, capture_len: frame.length, packet: frame.toString('base64') },
        },
      }),
    ].join('\n') + '\n',
  );
  const out = join(tmp.dir, 'v15.pcapng');
  const r = runRetrace(['pcap', events, '-o', out]);
  expect(r.code).toBe(0);
  expect(packets(out)).toEqual([frame]);
});
