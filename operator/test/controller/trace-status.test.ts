// The per-node entries of a Trace's status, from the aggregator's summary: which probes failed
// and why, also when the summary names only some of them or none (saved by an older aggregator);
// and an agent's refusal of the spec (a packet filter libpcap refuses) as the trace's failure.
import type { NodeSummary, TraceSummary } from '@retrace/events';
import type { TraceResource } from '@retrace/spec';
import { buildStatus } from '../../src/controller/trace-status.js';

const trace: TraceResource = {
  apiVersion: 'retrace.dev/v1alpha1',
  kind: 'ClusterTrace',
  metadata: { name: 'kp', generation: 1 },
  spec: {},
};

function statusOf(...nodes: Partial<NodeSummary>[]): ReturnType<typeof buildStatus> {
  return statusWith({}, ...nodes);
}

function statusWith(extra: Partial<TraceSummary>, ...nodes: Partial<NodeSummary>[]): ReturnType<typeof buildStatus> {
  const summary: TraceSummary = {
    trace: 'kp',
    nodes: nodes.map((n, i) => ({
      node: `n${i + 1}`,
      state: 'running',
      probes_attached: 1,
      probes_failed: 0,
      events: 0n,
      lost: 0n,
      error: '',
      kernel_release: '6.1.0',
      events_emitted: 0n,
      ring_fill: 0,
      ...n,
    })),
    events: 0n,
    lost: 0n,
    series: 0n,
    journeys: 0n,
    stitched: 0n,
    unstitched: 0n,
    late: 0n,
    stored_bytes: 0n,
    evicted: 0n,
    store_problem: '',
    ...extra,
  };
  return buildStatus(trace, {
    nodes: nodes.map((_, i) => `n${i + 1}`),
    connected: new Set(nodes.map((_, i) => `n${i + 1}`)),
    summary,
    startTime: undefined,
    aggregator: 'aggregator.test:7443',
    now: '2025-01-01T00:00:00Z',
  });
}

test('each failed probe is listed with its reason; failures the summary does not name are counted', () => {
  const s = statusOf(
    { probes_failed: 1, failed_probes: [{ probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' }] },
    // more failures than the summary names (it keeps the first ones)
    { probes_failed: 3, failed_probes: [{ probe: 'kprobe:udp_rcv', reason: 'this kernel lacks kprobes' }] },
    // a summary saved before failures were named: only the count
    { probes_failed: 2 },
    { probes_failed: 0 },
  );
  expect(s.nodes?.map((n) => n.probesFailed)).toEqual([
    [{ probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' }],
    [
      { probe: 'kprobe:udp_rcv', reason: 'this kernel lacks kprobes' },
      { probe: '', reason: '2 more probe(s) failed' },
    ],
    [{ probe: '', reason: '2 probe(s) failed' }],
    [],
  ]);
});

test('a store that cannot write makes a running trace Degraded, saying why and that agents hold their events', () => {
  expect(statusOf({}).phase).toBe('Running');
  const s = statusWith({ store_problem: 'segment 1 of kp not written (ENOSPC: no space left on device)' }, {});
  expect(s.phase).toBe('Degraded');
  expect(s.message).toBe(
    "the aggregator's store cannot write: segment 1 of kp not written (ENOSPC: no space left on device) " +
      '(agents hold their events meanwhile, then count what they drop)',
  );
  expect(s.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
});

// As an agent words it (agent/test/filter-checker.test.ts checks the real one).
const REFUSED = "spec.packetFilter: invalid packet filter 'tcp port': can't parse filter expression: syntax error";

test("an agent's refusal of the packet filter fails the trace, naming the field and libpcap's complaint", () => {
  const s = statusOf({ state: 'failed', probes_attached: 0, error: REFUSED }, { state: 'failed', error: REFUSED });
  expect(s.phase).toBe('Failed');
  expect(s.message).toBe(REFUSED);
  expect(s.conditions?.find((c) => c.type === 'Valid')).toMatchObject({
    status: 'False',
    reason: 'InvalidSpec',
    message: REFUSED,
  });
  // Each node says so too.
  expect(s.nodes?.map((n) => [n.name, n.state, n.message])).toEqual([
    ['n1', 'failed', REFUSED],
    ['n2', 'failed', REFUSED],
  ]);
});

test('a node that fails for its own reasons degrades the trace; a refusal from a node no longer targeted is history', () => {
  const own = statusOf({}, { state: 'failed', error: 'attaching tp:net:x failed: EPERM' });
  expect(own.phase).toBe('Degraded');
  expect(own.conditions?.find((c) => c.type === 'Valid')?.status).toBe('True');

  const summary = { node: 'gone', state: 'failed', error: REFUSED } as NodeSummary;
  const s = buildStatus(trace, {
    nodes: ['n1'],
    connected: new Set(['n1']),
    summary: { trace: 'kp', nodes: [summary] } as TraceSummary,
    startTime: undefined,
    aggregator: 'aggregator.test:7443',
    now: '2025-01-01T00:00:00Z',
  });
  expect(s.phase).not.toBe('Failed');
});
