// A cluster trace's OVS flow enrichment reaches the node's session: what the agent's TraceRunner
// asks the session pool for, and that traces differing in it do not share a session.
import type { TraceSpec } from '@retrace/events';
import { TraceRunner, type RunnerDeps } from '../src/daemon/trace-runner.js';
import { sessionKey, type SessionConfig, type SessionPool } from '../src/daemon/session-pool.js';

const spec = (over: Partial<TraceSpec>): TraceSpec => ({
  name: 'ovs',
  namespaced: false,
  collectors: ['ovs'],
  probes: [],
  filter: '',
  meta_filter: '',
  profile: '',
  stack: false,
  pods: [],
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nodes: [],
  skb_sections: [],
  nft_verdicts: '',
  ...over,
});

/** The session options a trace asks for (the pool refuses, so nothing loads). */
function asked(s: TraceSpec): SessionConfig {
  let got: SessionConfig | undefined;
  const sessions = {
    acquire: (c: SessionConfig): never => {
      got = c;
      throw new Error('no session in this test');
    },
  } as unknown as SessionPool;
  const deps = {
    node: 'n1',
    pods: { netnsOf: () => [] },
    sessions,
    onComplete: () => undefined,
  } as unknown as RunnerDeps;
  const r = new TraceRunner(s, deps).start();
  expect(r).toMatchObject({ ok: false, error: 'no session in this test' });
  if (!got) throw new Error('the pool was not asked');
  return got;
}

test('ovs_enrich_flows and its rate reach the session; rate 0 leaves the default', () => {
  expect(asked(spec({ ovs_enrich_flows: true, ovs_enrich_rate: 7 }))).toMatchObject({
    ovsEnrichFlows: true,
    ovsEnrichRate: 7,
  });
  const dflt = asked(spec({ ovs_enrich_flows: true }));
  expect(dflt.ovsEnrichFlows).toBe(true);
  expect(dflt.ovsEnrichRate).toBeUndefined();
  expect(asked(spec({})).ovsEnrichFlows).toBe(false);
});

test('traces with and without enrichment, or at other rates, get sessions of their own', () => {
  const base: SessionConfig = { collectors: ['ovs'] };
  const keys = new Set([
    sessionKey(base),
    sessionKey({ ...base, ovsEnrichFlows: true }),
    sessionKey({ ...base, ovsEnrichFlows: true, ovsEnrichRate: 5 }),
  ]);
  expect(keys.size).toBe(3);
  // A rate without enrichment changes nothing.
  expect(sessionKey({ ...base, ovsEnrichRate: 5 })).toBe(sessionKey(base));
});
