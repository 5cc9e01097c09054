// Every events file retis ships (test/fixtures/retis/, older layouts included) reads, prints,
// round-trips, sorts and counts in retrace; the packets file prints exactly as retis's own
// tests expect its text.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  EventSorter,
  collectStats,
  formatEvent,
  formatSeries,
  parseLine,
  stringifyEvent,
  type Event,
} from '../src/index.js';
import { FIXTURES, readEvents, readFixture } from './helpers/fixtures.js';

const DIR = 'retis';
const FILES = readdirSync(join(FIXTURES, DIR)).filter((f) => f.endsWith('.jsonl'));
const PACKETS = FILES.filter((f) => f.startsWith('retis.test_events_packets.'));
const at = (f: string): string => join(DIR, f);

test('the fixtures are all there: 15 files, 5 layouts of test_events_packets.json', () => {
  expect(FILES).toHaveLength(15);
  expect(PACKETS).toHaveLength(5);
});

describe.each(FILES)('%s', (name) => {
  const lines = readFixture(at(name));
  const events = lines.flat();

  test('every event prints in both formats, with its probe or what it is', () => {
    expect(events.length).toBeGreaterThan(0);
    for (const ev of events)
      for (const format of ['multi-line', 'single-line'] as const) {
        const text = formatEvent(ev, { format, link: true });
        expect(text).toContain(ev.kernel?.symbol ?? (ev.startup ? 'collected with Retis' : `${ev.common?.timestamp}`));
        expect(text).not.toMatch(/undefined|NaN|\[object/);
      }
    for (const line of lines) if (Array.isArray(line)) expect(formatSeries(line)).not.toContain('undefined');
  });

  test('written back and read again, every line is the same event', () => {
    for (const line of lines) {
      const again = parseLine(stringifyEvent(line));
      expect(again).toEqual(line);
      expect(stringifyEvent(again)).toBe(stringifyEvent(line));
    }
  });

  test('sort groups every event into a series, none lost', () => {
    const sorter = new EventSorter();
    const series: Event[][] = [];
    for (const ev of events) series.push(...sorter.push(ev));
    series.push(...sorter.flush());
    expect(series.flat()).toHaveLength(events.length);
  });

  test('stats count every event but the startup one (events without a probe as invalid, as retis)', () => {
    const s = collectStats(lines);
    const counted = s.files.reduce((n, f) => n + f.events + [...f.errors.values()].reduce((a, b) => a + b, 0), 0);
    expect(counted).toBe(events.filter((e) => !e.startup).length);
  });
});

// The text retis's own pcap test expects (its pcap comments are `retis print`'s multi-line text).
const RETIS_TEXT: Record<string, string> = {
  '30419169061793': [
    '30419169061793 (6) [ping] 11330 [tp] net:net_dev_start_xmit #1baa83c42ba1ffff8e95c3b67c00 (skb ffff8e95d3009100)',
    '  192.168.125.10 > 192.168.125.11 tos 0x0 ttl 64 id 41977 off 0 [DF] len 84 proto ICMP (1) type 8 code 0',
    '  ns 0x3/4026532741 if 11 (veth-ns01)',
    '  skb [csum none len 98 priority 0 users 1 dataref 1]',
    '  ct_state NEW status 0x8 icmp orig [192.168.125.10 > 192.168.125.11 type 8 code 0 id 29004] reply [192.168.125.11 > 192.168.125.10 type 0 code 0 id 29004] zone 0 mark 0',
  ].join('\n'),
  '30419169082348': [
    '30419169082348 (6) [ping] 11330 [tp] net:netif_receive_skb #1baa83c42ba1ffff8e95c3b67c00 (skb ffff8e95d3009100)',
    '  192.168.125.10 > 192.168.125.11 tos 0x0 ttl 64 id 41977 off 0 [DF] len 84 proto ICMP (1) type 8 code 0',
    '  ns 0x1/4026531840 if 10 (veth-ns01-ovs)',
    '  skb [csum none len 84 priority 0 users 1 dataref 1]',
  ].join('\n'),
  '30419169125909': [
    '30419169125909 (6) [ping] 11330 [kr] ovs_dp_upcall #1baa83c42ba1ffff8e95c3b67c00 (skb ffff8e95d3009100)',
    '  192.168.125.10 > 192.168.125.11 tos 0x0 ttl 64 id 41977 off 0 [DF] len 84 proto ICMP (1) type 8 code 0',
    '  ns 0x1/4026531840 if 10 (veth-ns01-ovs) rxif 10',
    '  skb [csum none hash 0x7e2c5976 len 98 priority 0 users 1 dataref 1]',
    '  upcall_ret (6/30419169098548) ret 0',
  ].join('\n'),
  '30419169372774': [
    '30419169372774 (6) [handler8] 985/995 [kr] ovs_dp_upcall #1baa83c8a025ffff8e95c3b67c00 (skb ffff8e95d3009200)',
    '  192.168.125.11 > 192.168.125.10 tos 0x0 ttl 64 id 19491 off 0 len 84 proto ICMP (1) type 0 code 0',
    '  ns 0x1/4026531840 if 12 (veth-ns02-ovs) rxif 12',
    '  skb [csum none hash 0x7e2c5976 len 98 priority 0 users 1 dataref 1]',
    '  upcall_ret (6/30419169364667) ret 0',
  ].join('\n'),
};

test.each(PACKETS)("%s: the events of retis's pcap test print exactly as retis prints them", (name) => {
  const byTs = new Map(readEvents(at(name)).map((e) => [`${e.common?.timestamp}`, e]));
  for (const [ts, text] of Object.entries(RETIS_TEXT)) {
    const ev = byTs.get(ts);
    if (!ev) throw new Error(`${name} has no event at ${ts}`);
    // The oldest layout records no netns cookie: the same line without it.
    expect(formatEvent(ev)).toBe(ev.netns?.cookie === undefined ? text.replace(/ns 0x[0-9a-f]+\//, 'ns ') : text);
  }
});

test('every layout of test_events_packets.json prints as the newest one, event for event', () => {
  const newest = readEvents(at('retis.test_events_packets.jsonl'));
  for (const name of PACKETS) {
    const evs = readEvents(at(name));
    expect(evs).toHaveLength(newest.length);
    evs.forEach((ev, i) => {
      const ref = newest[i];
      if (!ref) throw new Error('missing event');
      // 1.5's ns had only the inode; the cookie is the only thing it cannot give.
      // and 1.5 files say so in their startup event.
      const strip = (t: string): string => t.replace(/ns 0x[0-9a-f]+\//, 'ns ').replace('Retis v1.5.0', 'Retis v1.6.0');
      for (const format of ['multi-line', 'single-line'] as const)
        expect(strip(formatEvent(ev, { format, link: true }))).toBe(strip(formatEvent(ref, { format, link: true })));
    });
  }
});

test('the invalid-ct file (ct without mark and ct_status, which retis rejects) reads; its ct lines say so', () => {
  const evs = readEvents(at('retis.test_events_packets_invalid_ct.jsonl'));
  expect(evs).toHaveLength(16);
  const ct = evs.filter((e) => e.ct).map((e) => formatEvent(e).split('\n').at(-1));
  expect(ct).toHaveLength(4);
  for (const line of ct) expect(line).toMatch(/^ {2}ct_state REPLY status 0x0 icmp orig \[.* id 57784\] zone 0$/);
});
