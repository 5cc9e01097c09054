// The aggregator's control API (what retrace-operator --aggregator drives), with real processes:
// retrace-aggregator with mutual TLS, a real agent owning a node's network namespaces, and the
// Control client the operator uses. SetTraces assigns a trace and the agent attaches it; its
// summary comes back through GetState; the set survives a restart of the aggregator; an empty
// set stops it; clients without a certificate the CA signed are refused; an aggregator given
// --traces refuses SetTraces.
import { readFileSync, writeFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import {
  clusterLab,
  makeTestCerts,
  startAgent,
  startAggregator,
  type ClusterLab,
  type Proc,
  type TestCerts,
  waitForValue,
} from '@retrace/e2e';
import { type TraceSpec, type TraceSummary } from '@retrace/events';
import { ControlService } from '@retrace/wire';
import { ControlClient, ControlError } from '@retrace/operator';
import { tearDownCluster, tempDir } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];
const clients: ControlClient[] = [];

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('ac', { nodes: { 'node-a': ['team/client', 'team/server'] } });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await tearDownCluster({ procs, lab, certs, tmp });
});

/** Polls until f gives a value (a guard against hanging, not a timing assertion). */
const until = <T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> =>
  waitForValue(f, what, ms, 200);

const count = (text: string, re: RegExp): number => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

// The operator's certificate: the aggregator's own key pair, as the chart gives it.
function control(address: string, cert = certs.serverCert, key = certs.serverKey): ControlClient {
  const c = new ControlClient(address, { ca: certs.ca, cert, key });
  clients.push(c);
  return c;
}

function pingSpec(name: string): TraceSpec {
  return {
    name,
    namespaced: false,
    collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
    probes: ['tp:net:netif_receive_skb'],
    filter: 'icmp',
    meta_filter: '',
    profile: '',
    stack: false,
    pods: lab.podRefs(),
    ovs_track: false,
    ovs_enrich_flows: false,
    ovs_enrich_rate: 0,
    allow_system_changes: false,
    nodes: ['node-a'],
    nft_verdicts: '',
  };
}

const ping = (): void => {
  lab.pod('client').netns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.pod('server').ip]);
};

test('SetTraces assigns a trace to the connected agent; its summary comes back; the set outlives an aggregator restart; an empty set stops it', async () => {
  const store = `${tmp.dir}/store`;
  let agg = await startAggregator({ store, certs, extra: ['--lateness-ms', '300'] });
  procs.push(agg);
  expect(agg.log()).toContain('no traces yet: waiting for retrace-operator --aggregator');
  const agent = startAgent({
    node: 'node-a',
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns('node-a'),
    extra: ['--orphan-timeout-ms', '120000'],
  });
  procs.push(agent);
  const c = control(agg.address);

  // Before any SetTraces: the agent is connected, and nothing is assigned.
  const before = await until('the agent connected', async () => {
    const st = await c.getState({ traces: [], all_traces: true });
    return st.nodes?.includes('node-a') ? st : undefined;
  });
  expect(before).toMatchObject({ source: 'none', revision: '' });
  expect(before.traces ?? []).toEqual([]);

  const set = await c.setTraces({ traces: [pingSpec('pings')], revision: 'rev-1', operator: 'the test' });
  expect(set).toMatchObject({ revision: 'rev-1', traces: ['pings'] });
  await agent.waitFor(/trace pings: \d+ probe\(s\) attached/);
  expect(agg.log()).toMatch(/traces from the operator the test \(revision rev-1\): pings/);

  // The summary through the control API: the node running, and the pings counted.
  const summary = await until<TraceSummary>('events in the summary', async () => {
    ping();
    const st = await c.getState({ traces: ['pings', 'never-set'], all_traces: false });
    const s = st.summaries?.find((x) => x.trace === 'pings');
    return s && s.events > 0n ? s : undefined;
  });
  expect(summary.nodes?.find((n) => n.node === 'node-a')).toMatchObject({ state: 'running' });
  expect(summary.nodes?.[0]?.probes_attached).toBeGreaterThan(0);
  const named = await c.getState({ traces: ['pings', 'never-set'], all_traces: false });
  expect(named.summaries?.map((s) => s.trace)).toEqual(['pings']); // unknown traces are left out
  expect(named).toMatchObject({ source: 'operator', revision: 'rev-1', traces: ['pings'] });

  // The aggregator restarts (same port, same store): it runs the operator's last set before any
  // operator speaks again, and the agent, reconnecting, goes on with the trace it had.
  const port = Number(agg.address.split(':')[1]);
  await agg.stop('SIGTERM');
  agg = await startAggregator({ store, certs, port, extra: ['--lateness-ms', '300'] });
  procs.push(agg);
  expect(agg.log()).toContain("traces kept from the operator's last set: pings");
  await until('the agent back', async () => {
    const st = await c.getState({ traces: ['pings'], all_traces: false });
    return st.nodes?.includes('node-a') ? st : undefined;
  });
  const kept = await c.getState({ traces: [], all_traces: false });
  expect(kept).toMatchObject({ source: 'operator', revision: 'rev-1', traces: ['pings'] });
  expect(count(agent.log(), /trace pings: \d+ probe\(s\) attached/)).toBe(1);
  expect(agent.log()).not.toMatch(/trace pings complete/);

  // An empty set: the trace stops on the node; its results stay queryable.
  expect(await c.setTraces({ traces: [], revision: 'rev-2', operator: 'the test' })).toMatchObject({
    revision: 'rev-2',
  });
  await agent.waitFor(/trace pings complete: removed/);
  const after = await c.getState({ traces: ['pings'], all_traces: false });
  expect(after.traces ?? []).toEqual([]);
  expect(after.summaries?.[0]?.events).toBeGreaterThan(0n);
});

test("clients without a certificate the CA signed, or with an agent's, are refused and change nothing", async () => {
  const agg = await startAggregator({ store: `${tmp.dir}/tls-store`, certs });
  procs.push(agg);
  const good = control(agg.address);
  await good.setTraces({ traces: [], revision: 'kept', operator: 'the test' });

  // Signed by another CA.
  const rogue = control(agg.address, certs.rogueCert, certs.rogueKey);
  const refused = await rogue.setTraces({ traces: [pingSpec('intruder')], revision: 'rogue', operator: 'rogue' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(ControlError);
  expect((refused as ControlError).message).toMatch(
    /refused the TLS handshake: the certificate in --cert \S+rogue\.crt must be signed by the CA it trusts/,
  );

  // An agent's certificate: signed by the same CA, but not the operator's.
  const agent = control(agg.address, certs.clientCert, certs.clientKey);
  const denied = await agent.setTraces({ traces: [pingSpec('intruder')], revision: 'agent', operator: 'agent' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((denied as ControlError).message).toMatch(
    /refused: the control API is for retrace-operator; this client's certificate \(agent, agent\) is not one of aggregator, localhost/,
  );
  expect(await agent.getState({ traces: [], all_traces: true }).catch((e: Error) => e.message)).toMatch(/not one of/);

  // No certificate at all (the CA checked on our side only).
  const Ctor = makeGenericClientConstructor(ControlService, 'Control');
  const bare = new Ctor(agg.address, credentials.createSsl(readFileSync(certs.ca)));
  const err = await new Promise<ServiceError | null>((resolve) =>
    (
      bare as unknown as {
        SetTraces: (r: object, o: { deadline: number }, cb: (e: ServiceError | null) => void) => void;
      }
    ).SetTraces({ traces: [pingSpec('intruder')], revision: 'bare' }, { deadline: Date.now() + 5000 }, resolve),
  );
  bare.close();
  expect(err?.code).toBe(14); // UNAVAILABLE: the handshake never completed

  // The set is the one the good client gave.
  const st = await good.getState({ traces: [], all_traces: false });
  expect(st.revision).toBe('kept');
  expect(st.traces ?? []).toEqual([]);
  expect(agg.log()).not.toMatch(/traces from the operator (intruder|rogue|bare|agent)/);
  expect(agg.log()).toMatch(/refused a control call from agent, agent: not one of aggregator, localhost/);
});

test('an aggregator given --traces refuses SetTraces, naming the file', async () => {
  const file = `${tmp.dir}/traces.yaml`;
  writeFileSync(file, JSON.stringify({ traces: [{ name: 'from-file', probes: ['tp:net:netif_receive_skb'] }] }));
  const agg = await startAggregator({ store: `${tmp.dir}/file-store`, certs, traces: file });
  procs.push(agg);
  const c = control(agg.address);
  const e = await c.setTraces({ traces: [pingSpec('pings')], revision: 'r', operator: 'op' }).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ControlError);
  expect((e as ControlError).message).toBe(
    `the aggregator at ${agg.address} refused: this aggregator takes its traces from --traces ${file}; ` +
      'start retrace-aggregator without --traces to let the operator set them',
  );
  expect(agg.log()).toContain(
    `refused traces from the operator op: this aggregator takes its traces from --traces ${file}`,
  );
  expect(await c.getState({ traces: [], all_traces: false })).toMatchObject({
    source: 'file',
    revision: '',
    traces: ['from-file'],
  });
});
