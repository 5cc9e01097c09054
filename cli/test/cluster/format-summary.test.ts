// `retrace summary TRACE` as printed: the probes that failed on a node are named under it, with why.
import type { NodeSummary, TraceSummary } from '@retrace/events';
import { formatSummary } from '../../src/commands/cluster.js';

const node = (name: string, n: Partial<NodeSummary>): NodeSummary => ({
  node: name,
  state: 'running',
  probes_attached: 2,
  probes_failed: 0,
  events: 5n,
  lost: 0n,
  error: '',
  kernel_release: '6.1.0',
  events_emitted: 5n,
  ring_fill: 0,
  ...n,
});

test('each failed probe is printed under its node with its reason', () => {
  const s: TraceSummary = {
    trace: 'kp',
    nodes: [
      node('node-a', {
        probes_failed: 2,
        failed_probes: [
          { probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' },
          { probe: 'fentry:tcp_v4_rcv', reason: 'no BTF for tcp_v4_rcv' },
        ],
      }),
      node('node-b', {}),
    ],
    events: 10n,
    lost: 0n,
    series: 0n,
    journeys: 0n,
    stitched: 0n,
    unstitched: 0n,
    late: 0n,
    stored_bytes: 0n,
    evicted: 0n,
    store_problem: '',
  };
  const lines = formatSummary(s).split('\n');
  const a = lines.findIndex((l) => l.startsWith('  node node-a '));
  expect(lines[a]).toContain('2 probe(s) attached, 2 failed');
  expect(lines.slice(a + 1, a + 4)).toEqual([
    '    probe kprobe:ip_rcv failed: this kernel lacks kprobes',
    '    probe fentry:tcp_v4_rcv failed: no BTF for tcp_v4_rcv',
    expect.stringMatching(/^ {2}node node-b /),
  ]);
  expect(lines.filter((l) => l.includes(' failed: '))).toHaveLength(2);
});
