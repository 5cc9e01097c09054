// `retrace stats` counts and prints as `retis stats` does: scripts grep its labels.
import { collectStats, formatStats, type Event } from '../src/index.js';
import { readEvents, readFixture } from './helpers/fixtures.js';

test('stats of the retis fixture: retis labels, the startup event not counted, probes by count', () => {
  const s = collectStats(readEvents('test_events.jsonl'));
  expect(s.files).toHaveLength(1);
  expect(s.files[0]).toMatchObject({
    firstTimestamp: 23868643385999n,
    lastTimestamp: 23868955449721n,
    events: 4,
    series: 0,
    lost: 0n,
  });
  expect(formatStats(s)).toBe(
    [
      'Retis version: v1.6.0',
      'Retis cmdline: ',
      'Number of events: 4',
      'First event at: 2025-03-18 21:23:35.334427',
      'Last event at: 2025-03-18 21:23:35.646491',
      'Probes:',
      '  kprobe/tcp_v4_rcv: 1',
      '  kretprobe/ovs_dp_upcall: 1',
      '  raw_tracepoint/openvswitch:ovs_dp_upcall: 1',
      '  raw_tracepoint/skb:kfree_skb: 1',
    ].join('\n'),
  );
});

test('a sorted file: series counted (not the startup one), the same events', () => {
  const s = collectStats(readFixture('test_events_sorted.jsonl'));
  expect(s.files.map((f) => [f.events, f.series])).toEqual([[4, 3]]);
  expect(formatStats(s)).toMatch(
    /^Retis version: v1\.6\.0\nRetis cmdline: \nNumber of series: 3\nNumber of events: 4\n/,
  );
});

const probe = (symbol: string, ts: bigint): Event => ({
  common: { timestamp: ts },
  kernel: { symbol, probe_type: 'raw_tracepoint', stack_trace: [] },
});

test('probes with the most hits first; equal counts by name', () => {
  const s = collectStats([
    probe('b', 1n),
    probe('a', 2n),
    probe('c', 3n),
    probe('c', 4n),
    probe('c', 5n),
    probe('a', 6n),
  ]);
  expect(formatStats(s).split('Probes:\n')[1]).toBe(
    ['  raw_tracepoint/c: 3', '  raw_tracepoint/a: 2', '  raw_tracepoint/b: 1'].join('\n'),
  );
});

test('a rotated set read as one: a block per file, "Split index: N", versions only before file 0', () => {
  const startup = (id: number): Event => ({
    common: { timestamp: 1n },
    startup: {
      retis_version: 'v1.7.0',
      retrace_version: '0.1.0',
      cmdline: 'retrace collect -o x --out-rotate 1MB',
      clock_monotonic_offset: { sec: 1742309146n, nsec: 0n },
      split_file: { id, policy: { kind: 'size', limit: 1000000n } },
    },
  });
  const text = formatStats(collectStats([startup(0), probe('a', 10n), startup(1), probe('b', 20n), probe('b', 30n)]));
  expect(text).toBe(
    [
      'Retis version: v1.7.0',
      'Retis cmdline: retrace collect -o x --out-rotate 1MB',
      'Retrace version: 0.1.0',
      '',
      'Split index: 0',
      'Number of events: 1',
      'First event at: 2025-03-18 14:45:46.000000',
      'Last event at: 2025-03-18 14:45:46.000000',
      'Probes:',
      '  raw_tracepoint/a: 1',
      '',
      'Split index: 1',
      'Number of events: 2',
      'First event at: 2025-03-18 14:45:46.000000',
      'Last event at: 2025-03-18 14:45:46.000000',
      'Probes:',
      '  raw_tracepoint/b: 2',
    ].join('\n'),
  );
});

test('lost records are summed, events without a probe or a timestamp are errors; userspace probes counted', () => {
  const evs: Event[] = [
    { common: { timestamp: 1n }, lost: { probe: 'kprobe:a', count: 3n } },
    { common: { timestamp: 2n }, lost: { probe: 'kprobe:b', count: 4n } },
    {
      common: { timestamp: 3n },
      userspace: { probe_type: 'usdt', symbol: 'dpif:op', ip: 1n, path: '/bin/x', pid: 1, tid: 1 },
    },
    { common: { timestamp: 4n } },
    { kernel: { symbol: 'x', probe_type: 'kprobe', stack_trace: [] } },
  ];
  const s = collectStats(evs);
  const f = s.files[0];
  expect(f?.lost).toBe(7n);
  expect(f?.events).toBe(1);
  expect(f?.byProbe.get('usdt/dpif:op')).toBe(1);
  const text = formatStats(s);
  expect(text).toContain('Lost events: 7');
  expect(text).toContain(
    'Errors:\n  Invalid event: no kernel or userspace section: 1\n  Invalid event: no common section: 1',
  );
  // No startup event: no version lines, the timestamps as they are.
  expect(text).toMatch(/^Number of events: 1\nFirst event at: 3\n/);
});
