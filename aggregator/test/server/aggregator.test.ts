// The aggregator's handling of an agent's attach results, without the network: what the agent
// said about each probe reaches the trace's summary, and survives a restart of the aggregator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aggregator } from '../../src/server/aggregator.js';
import { agentStream, traceSpec } from './agent-streams.js';

const spec = traceSpec('default/drops', ['tp:skb:kfree_skb', 'kprobe:ip_rcv']);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-aggregator-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("an agent's failed probes reach the summary with their reasons, and are still there after a restart", () => {
  let agg = new Aggregator({ storeDir: dir, log: () => undefined });
  agg.setTraces([spec]);
  agg.onAttach(agentStream('node-a'), {
    trace: spec.name,
    ok: true,
    error: '',
    probes: [
      { probe: 'tp:skb:kfree_skb', attached: true, mechanism: 'raw_tracepoint', error: '' },
      { probe: 'kprobe:ip_rcv', attached: false, mechanism: 'kprobe', error: 'this kernel lacks kprobes' },
    ],
    notes: [],
  });
  const expected = {
    node: 'node-a',
    state: 'running',
    probes_attached: 1,
    probes_failed: 1,
    failed_probes: [{ probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' }],
  };
  expect(agg.summary(spec.name).nodes?.[0]).toMatchObject(expected);
  agg.close();

  agg = new Aggregator({ storeDir: dir, log: () => undefined });
  try {
    expect(agg.summary(spec.name).nodes?.[0]).toMatchObject(expected); // from the store
    agg.setTraces([spec]);
    expect(agg.summary(spec.name).nodes?.[0]).toMatchObject(expected); // live again, from the saved summary
  } finally {
    agg.close();
  }
});

test('a trace that could not start on a node says why, with no probe failures made up', () => {
  const agg = new Aggregator({ storeDir: dir, log: () => undefined });
  try {
    agg.setTraces([spec]);
    agg.onAttach(agentStream('node-a'), { trace: spec.name, ok: false, error: 'bad filter', probes: [], notes: [] });
    expect(agg.summary(spec.name).nodes?.[0]).toMatchObject({
      state: 'failed',
      error: 'bad filter',
      probes_attached: 0,
      probes_failed: 0,
      failed_probes: [],
    });
  } finally {
    agg.close();
  }
});
