// The summary a user reads first: which nodes ran, what was lost and why, where packets were
// dropped (with an example each), and whether the picture is complete.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SummaryBuilder,
  SummaryError,
  TraceStore,
  traceDirName,
  type Journey,
  type SortStats,
} from '../../src/journeys/index.js';
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
  s.probes('node-a', [
    ...[
      'tp:skb:kfree_skb',
      'tp:net:netif_receive_skb',
      'tp:net:net_dev_queue',
      'tp:net:net_dev_xmit',
      'tp:skb:consume_skb',
    ].map((probe) => ({ probe, attached: true, error: '' })),
    { probe: 'kprobe:ip_rcv', attached: false, error: 'this kernel lacks kprobes' },
  ]);
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

test('the probes that failed on a node are named with why: the first ones, and their count in full', () => {
  const s = new SummaryBuilder('t', undefined, { maxFailedProbes: 2 });
  s.probes('node-a', [
    { probe: 'tp:skb:kfree_skb', attached: true, error: '' },
    { probe: 'kprobe:ip_rcv', attached: false, error: 'this kernel lacks kprobes' },
    { probe: 'fentry:tcp_v4_rcv', attached: false, error: 'no BTF for tcp_v4_rcv' },
    { probe: 'kprobe:udp_rcv', attached: false, error: '' },
  ]);
  s.probes('node-b', [{ probe: 'tp:skb:kfree_skb', attached: true, error: '' }]);
  const [a, b] = s.toProto().nodes ?? [];
  expect(a).toMatchObject({ node: 'node-a', probes_attached: 1, probes_failed: 3 });
  expect(a?.failed_probes).toEqual([
    { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
    { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
  ]);
  expect(b).toMatchObject({ node: 'node-b', probes_attached: 1, probes_failed: 0, failed_probes: [] });

  // The agent restarted and attached again: its new results replace the old ones.
  s.probes('node-a', [{ probe: 'kprobe:udp_rcv', attached: false, error: '' }]);
  expect(s.toProto().nodes?.[0]).toMatchObject({
    probes_attached: 0,
    probes_failed: 1,
    failed_probes: [{ probe: 'kprobe:udp_rcv', reason: 'not attached (the agent gave no reason)' }],
  });
});

test('drops are counted by reason, node and pod, the most frequent place first', () => {
  const web = { namespace: 'shop', name: 'web-1' };
  const db = { namespace: 'shop', name: 'db-0' };
  const s = new SummaryBuilder('t');
  s.journey(drop('node-a', 'NETFILTER_DROP', 1, web));
  s.journey(drop('node-a', 'NETFILTER_DROP', 2, web));
  s.journey(drop('node-a', 'NETFILTER_DROP', 3, db));
  s.journey(drop('node-a', 'NETFILTER_DROP', 4)); // on the node, in no pod
  s.journey(drop('node-b', 'NETFILTER_DROP', 5, web)); // same pod name, other node
  s.journey(drop('node-a', 'NO_SOCKET', 6, web));
  s.journey(drop('node-a', 'NO_SOCKET', 7, web));
  s.journey(drop('node-a', 'NO_SOCKET', 8, web));
  expect((s.toProto().drop_places ?? []).map((p) => [p.reason, p.node, p.pod, p.count])).toEqual([
    ['NO_SOCKET', 'node-a', 'shop/web-1', 3n],
    ['NETFILTER_DROP', 'node-a', 'shop/web-1', 2n],
    ['NETFILTER_DROP', 'node-a', '', 1n],
    ['NETFILTER_DROP', 'node-a', 'shop/db-0', 1n],
    ['NETFILTER_DROP', 'node-b', 'shop/web-1', 1n],
  ]);
});

test("drop places are bounded: past the bound a reason's other places are summed, and a new busy place still shows", () => {
  const s = new SummaryBuilder('t', undefined, { maxDropPlaces: 2 });
  let seq = 0;
  const dropsAt = (reason: string, pod: string, n: number): void => {
    for (let i = 0; i < n; i++) s.journey(drop('node-a', reason, ++seq, { namespace: 'ns', name: pod }));
  };
  dropsAt('NO_SOCKET', 'busy', 5);
  dropsAt('NETFILTER_DROP', 'fw', 4);
  for (let i = 0; i < 30; i++) dropsAt(i % 2 ? 'NO_SOCKET' : 'NETFILTER_DROP', `short-lived-${i}`, 1);
  dropsAt('TCP_CSUM', 'late', 7); // arrives after the table was folded, and becomes the busiest
  const places = s.toProto().drop_places ?? [];
  expect(places.map((p) => [p.reason, p.node, p.pod, p.count])).toEqual([
    ['TCP_CSUM', 'node-a', 'ns/late', 7n],
    ['NO_SOCKET', 'node-a', 'ns/busy', 5n],
    ['NETFILTER_DROP', '', '', 19n], // ns/fw's 4 and 15 short-lived pods
    ['NO_SOCKET', '', '', 15n],
  ]);
  // Nothing is lost: each reason's entries add up to all its drops.
  const total = (reason: string): bigint => places.filter((p) => p.reason === reason).reduce((n, p) => n + p.count, 0n);
  expect([total('NO_SOCKET'), total('NETFILTER_DROP'), total('TCP_CSUM')]).toEqual([20n, 19n, 7n]);
});

test('failed probes and drop places come back from the saved summary of a restarted aggregator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retrace-summary-'));
  try {
    const first = new SummaryBuilder('t');
    first.probes('node-a', [{ probe: 'kprobe:ip_rcv', attached: false, error: 'this kernel lacks kprobes' }]);
    first.journey(drop('node-a', 'NO_SOCKET', 1, { namespace: 'shop', name: 'web-1' }));
    let store = TraceStore.open(dir);
    store.saveSummary('t', first.toProto(stats));
    store.close();

    store = TraceStore.open(dir); // meta.json read back
    const next = new SummaryBuilder('t', store.summary('t'));
    store.close();
    next.journey(drop('node-a', 'NO_SOCKET', 2, { namespace: 'shop', name: 'web-1' }));
    const p = next.toProto();
    expect(p.nodes?.[0]?.failed_probes).toEqual([{ probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' }]);
    expect(p.drop_places).toEqual([{ reason: 'NO_SOCKET', node: 'node-a', pod: 'shop/web-1', count: 2n }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a summary saved before failed probes and drop places existed still loads, and counting goes on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retrace-summary-'));
  try {
    const created = TraceStore.open(dir);
    created.saveSummary('t', new SummaryBuilder('t').toProto());
    created.close();
    // meta.json replaced by one an older aggregator wrote: no failed_probes, no drop_places.
    const old = {
      trace: 't',
      nodes: [{ node: 'node-a', state: 'running', probes_attached: 4, probes_failed: 2, events: '9', lost: '0' }],
      events: '9',
      lost: '0',
      drops: [{ reason: 'NO_SOCKET', count: '3', example: '[node-a] ...' }],
    };
    writeFileSync(join(dir, traceDirName('t'), 'meta.json'), JSON.stringify(old));
    const store = TraceStore.open(dir);
    const next = new SummaryBuilder('t', store.summary('t'));
    store.close();
    next.journey(drop('node-a', 'NO_SOCKET', 1));
    const p = next.toProto();
    expect(p.nodes?.[0]).toMatchObject({ probes_attached: 4, probes_failed: 2, failed_probes: [], events: 9n });
    expect(p.drops?.[0]).toMatchObject({ reason: 'NO_SOCKET', count: 4n });
    expect(p.drop_places).toEqual([{ reason: 'NO_SOCKET', node: 'node-a', pod: '', count: 1n }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events the store refused leave the stored count and are lost as quota', () => {
  const b = new SummaryBuilder('t');
  b.received('node-a', 10);
  b.refused('node-a', 'quota', 4);
  const n = b.toProto().nodes?.[0];
  expect(n?.events).toBe(6n);
  expect(n?.lost).toBe(4n);
  expect(n?.lost_by_cause).toEqual([{ cause: 'quota', count: 4n }]);
});
