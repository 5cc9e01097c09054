// What `retrace get` shows: the table of traces, and everything about one.
import type { TraceResource } from '@retrace/spec';
import { age, describeTrace, traceTable } from '../../src/kube/trace-view.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');

const trace: TraceResource = {
  apiVersion: 'retrace.dev/v1alpha1',
  kind: 'Trace',
  metadata: { name: 'web', namespace: 'team', creationTimestamp: '2026-11-25T11:55:00Z' },
  spec: { packetFilter: 'tcp' },
  status: {
    phase: 'Degraded',
    message: 'n2: 1 probe(s) failed',
    nodesReady: 2,
    nodesTotal: 2,
    events: 1200,
    lost: 3,
    topDropReason: 'NETFILTER_DROP',
    topDropReasons: [{ reason: 'NETFILTER_DROP', count: 40, example: '[n2 team/db] 123 [tp] skb:kfree_skb' }],
    conditions: [
      { type: 'Valid', status: 'True', reason: 'SpecAccepted', message: 'the spec is valid', lastTransitionTime: '' },
    ],
    nodes: [
      { name: 'n1', state: 'running', kernel: '6.1.0', probesAttached: 3, probesFailed: [], events: 700, lost: 0 },
      {
        name: 'n2',
        state: 'running',
        kernel: '6.8.0',
        probesAttached: 2,
        probesFailed: [{ probe: 'kprobe:tcp_v4_rcv', reason: 'no kprobes on this kernel' }],
        events: 500,
        lost: 3,
      },
    ],
    results: { aggregator: 'retrace-aggregator.retrace.svc:7443', trace: 'team/web', storedEvents: 1197 },
  },
};

test('the table has the printer columns, cluster traces marked', () => {
  const cluster: TraceResource = {
    kind: 'ClusterTrace',
    metadata: { name: 'all', creationTimestamp: '2026-11-23T12:00:00Z' },
  };
  const lines = traceTable([trace, cluster], NOW).split('\n');
  expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+PHASE\s+READY\s+EVENTS\s+LOST\s+TOP DROP\s+AGE$/);
  expect(lines[1]).toMatch(/^team\s+web\s+Degraded\s+2\/2\s+1200\s+3\s+NETFILTER_DROP\s+5m$/);
  expect(lines[2]).toMatch(/^\(cluster\)\s+all\s+Pending\s+0\/0\s+0\s+0\s+2d$/);
});

test('one trace: phase, nodes with their failed probes, drops and where the results are', () => {
  const text = describeTrace(trace, NOW);
  expect(text).toMatch(/^Phase: +Degraded \(n2: 1 probe\(s\) failed\)$/m);
  expect(text).toMatch(/^Results: +team\/web on retrace-aggregator\.retrace\.svc:7443, 1197 event\(s\) stored$/m);
  expect(text).toMatch(/^ {2}n2\s+running\s+6\.8\.0\s+2 attached, 1 failed\s+500\s+3$/m);
  expect(text).toContain('  n2: probe kprobe:tcp_v4_rcv failed: no kprobes on this kernel');
  expect(text).toContain('Top drop reasons:\n  NETFILTER_DROP: 40\n    e.g. [n2 team/db]');
});

test('ages read like kubectl', () => {
  expect(age('2026-11-25T11:59:30Z', NOW)).toBe('30s');
  expect(age('2026-11-25T09:00:00Z', NOW)).toBe('3h');
  expect(age(undefined, NOW)).toBe('<unknown>');
});
