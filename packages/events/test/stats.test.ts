import { collectStats, formatStats, type Event } from '../src/index.js';
import { readEvents, readFixture } from './helpers/fixtures.js';

test('stats of the retis fixture: counts, time span, hits per probe', () => {
  const s = collectStats(readEvents('test_events.jsonl'));
  expect(s).toMatchObject({
    version: 'v1.6.0',
    firstTimestamp: 23868643385852n,
    lastTimestamp: 23868955449721n,
    events: 5,
    series: 3,
    lost: 0n,
  });
  expect([...s.byProbe]).toEqual([
    ['kprobe/tcp_v4_rcv', 1],
    ['raw_tracepoint/openvswitch:ovs_dp_upcall', 1],
    ['kretprobe/ovs_dp_upcall', 1],
    ['raw_tracepoint/skb:kfree_skb', 1],
  ]);
  expect(formatStats(s)).toBe(
    [
      'Version: v1.6.0',
      'First event: 23868643385852 (2025-03-18T21:23:35.334427852Z)',
      'Last event: 23868955449721 (2025-03-18T21:23:35.646491721Z)',
      'Number of events: 5',
      'Number of series: 3',
      'Probes:',
      '  kprobe/tcp_v4_rcv: 1',
      '  kretprobe/ovs_dp_upcall: 1',
      '  raw_tracepoint/openvswitch:ovs_dp_upcall: 1',
      '  raw_tracepoint/skb:kfree_skb: 1',
    ].join('\n'),
  );
});

test('a sorted file (series per line) gives the same counts', () => {
  const s = collectStats(readFixture('test_events_sorted.jsonl'));
  expect([s.events, s.series]).toEqual([5, 3]);
});

test('lost events are summed; userspace probes counted', () => {
  const evs: Event[] = [
    { common: { timestamp: 1n }, lost: { probe: 'kprobe:a', count: 3n } },
    { common: { timestamp: 2n }, lost: { probe: 'kprobe:b', count: 4n } },
    {
      common: { timestamp: 3n },
      userspace: { probe_type: 'usdt', symbol: 'dpif:op', ip: 1n, path: '/bin/x', pid: 1, tid: 1 },
    },
  ];
  const s = collectStats(evs);
  expect(s.lost).toBe(7n);
  expect(s.byProbe.get('usdt/dpif:op')).toBe(1);
  expect(formatStats(s)).toContain('Lost events: 7');
});
