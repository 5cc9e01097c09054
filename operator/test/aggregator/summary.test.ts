// The summary a user reads first: which nodes ran, what was lost and why, where packets were
// dropped (with an example each), and whether the picture is complete.
import { SummaryBuilder, SummaryError, type Journey, type SortStats } from '../../src/aggregator/index.js';
import { event, podPing, sortedEvent, tracking } from './packets.js';

function drop(node: string, reason: string, seq: number, pod?: { namespace: string; name: string }): Journey {
  const ev = event({
    ts: 1000n + BigInt(seq),
    symbol: 'skb:kfree_skb',
    tracking: tracking(BigInt(seq), 0xffff888000000000n),
    packet: podPing(seq),
    drop: reason,
    node,
    ...(pod ? { pod } : {}),
  });
  return {
    id: `${node}/${seq}`,
    nodes: [node],
    events: [sortedEvent(node, ev, 1n, 0)],
  };
}

const stats: SortStats = {
  events: 10,
  series: 6,
  journeys: 4,
  stitched: 1,
  unstitched: 4,
  late: 1,
  forcedReleases: 0,
  buffered: 0,
};

test('per node: state, probes, events, losses by cause, gaps; totals from the sorter and the store', () => {
  const s = new SummaryBuilder('default/ping');
  s.node('node-a', { state: 'attaching', kernel_release: '6.1.0-18-amd64' });
  s.probes('node-a', 5, 1);
  s.setState('node-a', 'running');
  s.received('node-a', 7);
  s.received('node-b', 3);
  s.lost('node-a', 'ring', 4n);
  s.lost('node-a', 'backpressure', 2n);
  s.lost('node-a', 'ring', 1n);
  s.gap('node-b', { incarnation: 'r2', first_seq: 5n, last_seq: 9n, reason: 'agent restarted' });
  s.nodeLost('node-b', 'no heartbeat for 5 s');
  s.setState('node-a', 'complete');
  s.nodeLost('node-a', 'stream closed'); // a finished node is not lost afterwards
  const p = s.toProto(stats, { stored_bytes: 4096n, evicted: 2n });
  expect(p.nodes?.map((n) => [n.node, n.state, n.events, n.lost, n.error])).toEqual([
    ['node-a', 'complete', 7n, 7n, ''],
    ['node-b', 'lost', 3n, 0n, 'no heartbeat for 5 s'],
  ]);
  expect(p.nodes?.[0]).toMatchObject({ probes_attached: 5, probes_failed: 1, kernel_release: '6.1.0-18-amd64' });
  expect(p.nodes?.[0]?.lost_by_cause).toEqual([
    { cause: 'backpressure', count: 2n },
    { cause: 'ring', count: 5n },
  ]);
  expect(p.nodes?.[1]?.gaps).toEqual([{ incarnation: 'r2', first_seq: 5n, last_seq: 9n, reason: 'agent restarted' }]);
  expect(p).toMatchObject({ events: 10n, lost: 7n, series: 6n, journeys: 4n, stitched: 1n, unstitched: 4n, late: 1n });
  expect(p).toMatchObject({ stored_bytes: 4096n, evicted: 2n });
  expect(() => s.node('node-a', { state: 'exploded' })).toThrow(SummaryError);
  expect(() => s.node('node-a', { state: 'exploded' })).toThrow(
    /one of attaching, running, complete, failed, lost, restarted/,
  );
});

test('the most frequent drop reasons come first, each with one example saying node and pod', () => {
  const s = new SummaryBuilder('t', undefined, { topDrops: 2 });
  s.journey(drop('node-b', 'NETFILTER_DROP', 1, { namespace: 'default', name: 'server' }));
  s.journey(drop('node-b', 'NETFILTER_DROP', 2));
  s.journey(drop('node-a', 'NO_SOCKET', 3));
  s.journey(drop('node-a', 'NO_SOCKET', 4));
  s.journey(drop('node-a', 'NO_SOCKET', 5));
  s.journey(drop('node-c', 'TCP_CSUM', 6));
  const drops = s.toProto().drops ?? [];
  expect(drops.map((d) => [d.reason, d.count])).toEqual([
    ['NO_SOCKET', 3n],
    ['NETFILTER_DROP', 2n],
  ]);
  const example = drops[1]?.example ?? '';
  expect(example.startsWith('[node-b default/server] ')).toBe(true);
  expect(example).toContain('drop (reason NETFILTER_DROP)');
  expect(example).toContain('10.0.1.5 > 10.0.2.7'); // the packet, on the same line
  expect(example).not.toContain('\n');
});

test('a restarted aggregator goes on counting from the saved summary', () => {
  const first = new SummaryBuilder('t');
  first.received('node-a', 5);
  first.lost('node-a', 'ring', 2n);
  first.journey(drop('node-a', 'NO_SOCKET', 1));
  const saved = first.toProto(stats);
  const next = new SummaryBuilder('t', saved);
  next.received('node-a', 1);
  next.lost('node-a', 'ring', 1n);
  next.journey(drop('node-a', 'NO_SOCKET', 2));
  const p = next.toProto({ ...stats, journeys: 1 });
  expect(p.events).toBe(6n);
  expect(p.nodes?.[0]?.lost_by_cause).toEqual([{ cause: 'ring', count: 3n }]);
  expect(p.journeys).toBe(5n);
  expect(p.drops?.[0]).toMatchObject({ reason: 'NO_SOCKET', count: 2n });
});
