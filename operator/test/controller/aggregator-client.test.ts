// RemoteAggregator (the controller's port to a separate aggregator) against a scripted control
// client: when sets are pushed, which set wins while the aggregator fails, the summary cache,
// and pushing again when the aggregator lost the set. The real processes are in
// e2e/test/aggregator-control.test.ts and e2e/test/operator-separate-aggregator.test.ts.
import type { ControlState, GetStateRequest, SetTracesRequest, TraceSpec, TraceSummary } from '@retrace/events';
import { RemoteAggregator, tracesRevision } from '../../src/controller/aggregator-client.js';

const spec = (name: string): TraceSpec => ({
  name,
  namespaced: false,
  filter: '',
  meta_filter: '',
  profile: '',
  stack: false,
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nft_verdicts: '',
});

const summary = (trace: string, events: bigint): TraceSummary => ({
  trace,
  events,
  lost: 0n,
  series: 0n,
  journeys: 0n,
  stitched: 0n,
  unstitched: 0n,
  late: 0n,
  stored_bytes: 0n,
  evicted: 0n,
  store_problem: '',
});

/** An aggregator's control API in memory; `down` makes every call fail. */
class FakeControl {
  readonly address = 'agg.test:7443';
  down = false;
  sent: SetTracesRequest[] = [];
  state: ControlState = { nodes: ['n1'], revision: '', source: 'none', traces: [] };
  held = new Map<string, TraceSummary>();
  asked: GetStateRequest[] = [];
  async setTraces(req: SetTracesRequest): Promise<{ revision: string; traces: string[] }> {
    await Promise.resolve();
    if (this.down) throw new Error('cannot reach the aggregator at agg.test:7443: connection refused');
    this.sent.push(req);
    this.state = { ...this.state, revision: req.revision, source: 'operator' };
    return { revision: req.revision, traces: (req.traces ?? []).map((t) => t.name) };
  }
  async getState(req: GetStateRequest): Promise<ControlState> {
    await Promise.resolve();
    if (this.down) throw new Error('cannot reach the aggregator at agg.test:7443: connection refused');
    this.asked.push(req);
    const names = req.all_traces ? [...this.held.keys()] : (req.traces ?? []).filter((t) => this.held.has(t));
    return { ...this.state, summaries: names.map((n) => this.held.get(n) as TraceSummary) };
  }
  close(): void {}
}

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let remote: RemoteAggregator | undefined;
afterEach(() => remote?.close());

function make(fake: FakeControl, logs: string[] = []): RemoteAggregator {
  remote = new RemoteAggregator(fake, {
    identity: 'op-1',
    refreshMs: 20,
    retryMs: 10,
    maxBackoffMs: 40,
    log: (m) => logs.push(m),
  });
  return remote;
}

test('nothing is pushed before the operator takes over; then its whole set, once', async () => {
  const fake = new FakeControl();
  const r = make(fake);
  await r.start();
  r.setTraces([spec('a')]);
  r.setTraces([spec('a'), spec('b')]);
  await new Promise((res) => setTimeout(res, 60));
  expect(fake.sent).toEqual([]); // the aggregator keeps what it runs
  r.takeOver();
  await until('the push', () => fake.sent.length === 1);
  expect(fake.sent[0]).toMatchObject({ revision: tracesRevision([spec('a'), spec('b')]), operator: 'op-1' });
  expect(fake.sent[0]?.traces?.map((t) => t.name)).toEqual(['a', 'b']);
  await new Promise((res) => setTimeout(res, 60));
  expect(fake.sent.length).toBe(1);
  expect(r.problem()).toBe('');
});

test('an operator finding its very set already there sends nothing', async () => {
  const fake = new FakeControl();
  fake.state.revision = tracesRevision([spec('a')]);
  const logs: string[] = [];
  const r = make(fake, logs);
  await r.start();
  r.setTraces([spec('a')]);
  r.takeOver();
  await until('the check', () => r.confirmedRevision !== undefined);
  expect(fake.sent).toEqual([]);
  expect(logs.join('\n')).toMatch(/already runs these traces \(revision \w+\): a/);
});

test('while the aggregator fails, retries send the latest set; the error is there to see until it works', async () => {
  const fake = new FakeControl();
  const logs: string[] = [];
  const r = make(fake, logs);
  await r.start();
  r.takeOver();
  await until('the first push', () => fake.sent.length === 1);
  fake.down = true;
  r.setTraces([spec('a')]);
  await until('a failure', () => r.problem().startsWith('cannot set the traces'));
  expect(r.problem()).toMatch(/^cannot set the traces: cannot reach the aggregator at agg.test:7443/);
  r.setTraces([spec('a'), spec('b')]);
  r.setTraces([spec('c')]);
  await new Promise((res) => setTimeout(res, 50));
  fake.down = false;
  await until('the retry', () => fake.sent.length === 2);
  await new Promise((res) => setTimeout(res, 60));
  // Only the latest reached it: no queue of stale sets.
  expect(fake.sent.map((s) => (s.traces ?? []).map((t) => t.name))).toEqual([[], ['c']]);
  await until('recovered', () => r.problem() === '');
  // The failure was said once, not at every retry.
  expect(logs.filter((l) => l.startsWith('cannot set the traces')).length).toBe(1);
});

test('summaries and nodes come from the cache; a trace the aggregator does not hold has none', async () => {
  const fake = new FakeControl();
  fake.held.set('old', summary('old', 5n));
  const r = make(fake);
  await r.start();
  // The first refresh brought every trace held.
  expect(fake.asked[0]).toMatchObject({ all_traces: true });
  expect(r.summary('old')?.events).toBe(5n);
  expect(r.connectedNodes()).toEqual(['n1']);
  expect(r.summary('new')).toBeUndefined();
  fake.held.set('new', summary('new', 7n));
  fake.state.nodes = ['n1', 'n2'];
  await until('the new summary', () => r.summary('new')?.events === 7n);
  expect(r.connectedNodes()).toEqual(['n1', 'n2']);
  // Later refreshes ask only for what the controller asked about.
  expect(fake.asked.at(-1)).toMatchObject({ all_traces: false, traces: ['old', 'new'] });
  fake.held.delete('old');
  await until('old gone', () => r.summary('old') === undefined);
});

test('an aggregator that lost the set (restarted without its store) gets it again', async () => {
  const fake = new FakeControl();
  const logs: string[] = [];
  const r = make(fake, logs);
  await r.start();
  r.setTraces([spec('a')]);
  r.takeOver();
  await until('the push', () => fake.sent.length === 1);
  fake.state = { nodes: [], revision: '', source: 'none', traces: [] }; // a fresh aggregator
  await until('pushed again', () => fake.sent.length === 2);
  expect(fake.sent[1]?.traces?.map((t) => t.name)).toEqual(['a']);
  expect(logs.join('\n')).toMatch(/runs traces from none, not \w+: setting the traces again/);
});
