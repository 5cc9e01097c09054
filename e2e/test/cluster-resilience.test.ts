// The agent link under stress, with real processes: an agent killed with SIGKILL and restarted,
// an aggregator restarted, a client with a certificate from the wrong CA, a slow aggregator,
// and malformed messages on one stream while another agent goes on.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { makeGenericClientConstructor, credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  clientTlsArgs,
  clusterLab,
  makeTestCerts,
  runRetrace,
  startAgent,
  startAggregator,
  type ClusterLab,
  type Proc,
  type TestCerts,
  waitForValue,
} from '@retrace/e2e';
import { type AgentMessage, type ServerMessage } from '@retrace/events';
import { AgentLinkService, PROTOCOL_VERSION, channelCredentials } from '@retrace/wire';
import { tearDownCluster, tempDir } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
let lab: ClusterLab;
const procs: Proc[] = [];

beforeAll(() => {
  certs = makeTestCerts();
  lab = clusterLab('cr', { nodes: { 'node-a': ['team/a'], 'node-b': ['team/b'] } });
});

afterAll(() => tearDownCluster({ procs, lab, certs, tmp }));

const clientTls = (): string[] => clientTlsArgs(certs);

function traceFile(name: string, extra: Record<string, unknown> = {}): string {
  const f = `${tmp.dir}/${name}.yaml`;
  writeFileSync(
    f,
    JSON.stringify({
      traces: [
        {
          name,
          collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
          probes: ['tp:net:netif_receive_skb'],
          filter: 'icmp',
          pods: lab.podRefs(),
          ...extra,
        },
      ],
    }),
  );
  return f;
}

interface NodeSum {
  node: string;
  state: string;
  events: number;
  lost: number;
  emitted: number;
  causes: Record<string, number>;
  gaps: string[];
  error: string;
}

/** The summary as `retrace summary` prints it, parsed back for assertions. */
function summary(server: string, trace: string): { text: string; nodes: NodeSum[] } {
  const r = runRetrace(['summary', trace, '--server', server, ...clientTls()]);
  if (r.code !== 0) throw new Error(r.stderr);
  const nodes: NodeSum[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^ {2}node (\S+) \[(\w+)\].*?(\d+) event\(s\), (\d+) lost(?: \(([^)]*)\))?; emitted (\d+)/.exec(line);
    if (m)
      nodes.push({
        node: m[1] ?? '',
        state: m[2] ?? '',
        events: Number(m[3]),
        lost: Number(m[4]),
        causes: Object.fromEntries(
          (m[5] ?? '')
            .split(', ')
            .filter(Boolean)
            .map((c) => [c.split(' ')[0], Number(c.split(' ')[1])]),
        ),
        emitted: Number(m[6]),
        gaps: [],
        error: '',
      });
    const g = /^ {4}gap: (.*)$/.exec(line);
    if (g && nodes.length) nodes[nodes.length - 1]?.gaps.push(g[1] ?? '');
    const e = /^ {4}error: (.*)$/.exec(line);
    if (e && nodes.length) (nodes[nodes.length - 1] as NodeSum).error = e[1] ?? '';
  }
  return { text: r.stdout, nodes };
}

const until = <T>(what: string, f: () => T | undefined | false, timeoutMs = 30_000): Promise<T> =>
  waitForValue(f, what, timeoutMs, 300);

/** BPF programs loaded in the kernel, all owners. */
function programsLoaded(): number {
  return (JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as unknown[]).length;
}

function ping(from: string, to: string, count = 3): void {
  lab.pod(from).netns.exec(['ping', '-c', String(count), '-i', '0.2', '-W', '1', lab.pod(to).ip]);
}

test('an agent killed with SIGKILL and restarted: the trace resumes, the gap is reported, the kernel keeps nothing', async () => {
  const agg = await startAggregator({
    store: `${tmp.dir}/kill`,
    traces: traceFile('kill'),
    certs,
    extra: ['--lateness-ms', '300'],
  });
  procs.push(agg);
  const baseline = programsLoaded();
  const nsA = lab.nodeNetns('node-a');
  const a1 = startAgent({ node: 'node-a', server: agg.address, certs, nodeNetns: nsA });
  procs.push(a1);
  await a1.waitFor(/trace kill: \d+ probe\(s\) attached/);
  ping('b', 'a');
  await until('events from the first run', () =>
    summary(agg.address, 'kill').nodes.find((n) => n.node === 'node-a' && n.events > 0),
  );
  expect(programsLoaded()).toBeGreaterThan(baseline);
  await a1.stop('SIGKILL');
  // A killed agent's stream ends without a goodbye: the node is lost, not cleanly done.
  const lostNode = await until('node-a lost', () =>
    summary(agg.address, 'kill').nodes.find((n) => n.node === 'node-a' && n.state === 'lost'),
  );
  expect(lostNode.error).toMatch(/without a goodbye/);
  // Nothing is pinned: the kernel unloads the dead agent's programs with its file descriptors.
  await until('the programs gone', () => programsLoaded() === baseline, 10_000);

  const a2 = startAgent({ node: 'node-a', server: agg.address, certs, nodeNetns: nsA });
  procs.push(a2);
  await a2.waitFor(/trace kill: \d+ probe\(s\) attached/);
  const before = summary(agg.address, 'kill').nodes.find((n) => n.node === 'node-a')?.events ?? 0;
  ping('b', 'a');
  const after = await until('events from the second run', () => {
    const n = summary(agg.address, 'kill').nodes.find((x) => x.node === 'node-a');
    return n && n.events > before ? n : undefined;
  });
  expect(after.gaps.join('\n')).toMatch(/of run [0-9a-f]+: the agent restarted/);
  await a2.stop('SIGTERM');
});

test('stored results survive an aggregator restart', async () => {
  const store = `${tmp.dir}/restart`;
  const traces = traceFile('restart');
  const agg1 = await startAggregator({ store, traces, certs, extra: ['--lateness-ms', '200'] });
  procs.push(agg1);
  const agent = startAgent({
    node: 'node-b',
    server: agg1.address,
    certs,
    nodeNetns: lab.nodeNetns('node-b'),
  });
  procs.push(agent);
  await agent.waitFor(/trace restart: \d+ probe\(s\) attached/);
  ping('a', 'b');
  await agent.stop('SIGTERM'); // flushes what it holds
  // Once the node is gone, nothing holds the watermark back: every journey gets stored.
  let last = '';
  const events = await until('stored journeys', () => {
    const r = runRetrace(['events', 'restart', '-o', '-', '--server', agg1.address, ...clientTls()]);
    const n = r.stdout.split('\n').filter(Boolean).length;
    const stable = r.code === 0 && n > 0 && r.stdout === last;
    last = r.stdout;
    return stable ? r.stdout : undefined;
  });
  expect(events.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
  await agg1.stop('SIGTERM');
  const agg2 = await startAggregator({ store, certs });
  procs.push(agg2);
  const r = runRetrace(['events', 'restart', '-o', '-', '--server', agg2.address, ...clientTls()]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(events);
  expect(runRetrace(['traces', '--server', agg2.address, ...clientTls()]).stdout).toMatch(/^restart\s/m);
  await agg2.stop('SIGTERM');
});

test('an agent whose certificate another CA signed is refused, and says so', async () => {
  const agg = await startAggregator({ store: `${tmp.dir}/certs`, traces: traceFile('certs'), certs });
  procs.push(agg);
  const rogue = startAgent({ node: 'node-x', server: agg.address, certs, rogue: true });
  procs.push(rogue);
  await rogue.waitFor(/lost the aggregator|reconnecting/);
  expect(rogue.log()).not.toMatch(/connected to/);
  // The aggregator says whom it refused and why (grpc-js alone drops the connection silently).
  expect(rogue.log()).toMatch(/most often it does not accept its certificate/);
  await agg.waitFor(/refused a TLS connection during the handshake .*client certificate this server's CA did not sign/);
  await rogue.stop('SIGTERM');
  // No certificate at all: a clear error before anything starts.
  const none = startAgent({ node: 'node-x', server: agg.address, extra: [] });
  none.child.kill('SIGKILL');
  const bare = runRetrace(['traces', '--server', agg.address]);
  expect(bare.code).not.toBe(0);
  expect(bare.stderr).toMatch(/no CA certificate given: pass --ca FILE/);
});

test('a slow aggregator: the agent holds a bounded buffer, then drops with exact accounting', async () => {
  const agg = await startAggregator({
    store: `${tmp.dir}/slow`,
    traces: traceFile('slow', { filter: 'udp port 9000', collectors: ['skb', 'skb-tracking'] }),
    certs,
    extra: ['--ingest-delay-ms', '300', '--lateness-ms', '200'],
  });
  procs.push(agg);
  const agent = startAgent({
    node: 'node-b',
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns('node-b'),
    extra: ['--max-buffer-bytes', String(256 * 1024), '--metrics-port', '0'],
  });
  procs.push(agent);
  await agent.waitFor(/trace slow: \d+ probe\(s\) attached/);
  const port = Number((await agent.waitFor(/health and metrics on :(\d+)/))[1]);
  // A burst far larger than the buffer: 20000 datagrams.
  const send = `const s=require('dgram').createSocket('udp4');let i=0;const f=()=>{for(let k=0;k<200&&i<20000;k++,i++)s.send('x',9000,'${lab.pod('b').ip}');if(i<20000)setImmediate(f);else setTimeout(()=>s.close(),200)};f()`;
  lab.pod('a').netns.exec([process.execPath, '-e', send]);
  let maxBuffered = 0;
  const metric = async (): Promise<number> => {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = /retrace_agent_buffered_bytes\{trace="slow"\} (\d+)/.exec(text);
      return Number(m?.[1] ?? 0);
    } catch (e) {
      throw new Error(`agent metrics: ${(e as Error).message}\n${agent.log()}`);
    }
  };
  // Sample the agent's buffer while the aggregator catches up, until every event is accounted for.
  let final: NodeSum | undefined;
  for (const end = Date.now() + 60_000; !final; await new Promise((r) => setTimeout(r, 200))) {
    maxBuffered = Math.max(maxBuffered, await metric());
    const n = summary(agg.address, 'slow').nodes.find((x) => x.node === 'node-b');
    if (n && n.emitted > 0 && n.events + (n.causes.backpressure ?? 0) === n.emitted) final = n;
    else if (Date.now() > end) throw new Error(`not all accounted for: ${JSON.stringify(n)}`);
  }
  expect(final.causes.backpressure).toBeGreaterThan(0);
  expect(final.events).toBeGreaterThan(0);
  expect(maxBuffered).toBeLessThanOrEqual(256 * 1024);
  await agent.stop('SIGTERM');
});

test('malformed messages mark their own stream only', async () => {
  const agg = await startAggregator({
    store: `${tmp.dir}/bad`,
    traces: traceFile('bad'),
    certs,
    extra: ['--lateness-ms', '200'],
  });
  procs.push(agg);
  const Client = makeGenericClientConstructor(AgentLinkService, 'AgentLink');
  const client = new Client(
    agg.address,
    channelCredentials({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }),
  );
  // The agent of node-bad, with its own certificate (bound to that node).
  const own = certs.nodeCert('node-bad');
  const badClient = new Client(agg.address, channelCredentials({ ca: certs.ca, cert: own.cert, key: own.key }));
  const open = (via = client): { call: ClientDuplexStream<AgentMessage, ServerMessage>; got: ServerMessage[] } => {
    const call = (via as unknown as { Connect: () => ClientDuplexStream<AgentMessage, ServerMessage> }).Connect();
    const got: ServerMessage[] = [];
    call.on('data', (m: ServerMessage) => got.push(m));
    call.on('error', () => undefined);
    return { call, got };
  };
  // An agent of another protocol version is refused with the reason.
  const old = open();
  old.call.write({ register: { protocol: 99, node: 'old', kernel_release: '', version: '9', incarnation: 'x' } });
  await until('the refusal', () => old.got.find((m) => m.error));
  expect(old.got.find((m) => m.error)?.error).toMatchObject({
    fatal: true,
    message: expect.stringMatching(/speaks protocol 99.*speaks 1/),
  });
  // A batch with a truncated event: counted as malformed on that node, the stream stays up.
  const bad = open(badClient);
  bad.call.write({
    register: { protocol: PROTOCOL_VERSION, node: 'node-bad', kernel_release: 'x', version: 't', incarnation: 'b1' },
  });
  await until('welcome', () => bad.got.find((m) => m.welcome));
  bad.call.write({ batch: { trace: 'bad', seq: 1n, events: [Buffer.from([0x0a, 0x20, 0x08])] as never, lost: [] } });
  await until('a non-fatal error', () => bad.got.find((m) => m.error && !m.error.fatal));
  // Meanwhile a real agent's events arrive as usual.
  const agent = startAgent({
    node: 'node-a',
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns('node-a'),
  });
  procs.push(agent);
  await agent.waitFor(/trace bad: \d+ probe\(s\) attached/);
  ping('b', 'a');
  const s = await until('good events next to the bad stream', () => {
    const x = summary(agg.address, 'bad');
    const good = x.nodes.find((n) => n.node === 'node-a');
    return good && good.events > 0 ? x : undefined;
  });
  const badNode = s.nodes.find((n) => n.node === 'node-bad');
  expect(badNode?.causes.malformed).toBe(1);
  expect(badNode?.error).toMatch(/batch 1 of bad: 1 event\(s\) could not be decoded \(malformed Event message/);
  old.call.cancel();
  bad.call.cancel();
  client.close();
  badClient.close();
  void credentials;
  await agent.stop('SIGTERM');
});

test('a trace with an unknown probe fails on the node with the reason, and other traces run', async () => {
  const f = `${tmp.dir}/badprobe.yaml`;
  writeFileSync(
    f,
    JSON.stringify({
      traces: [
        { name: 'typo', collectors: ['skb'], probes: ['tp:net:netif_recieve_skb'] },
        { name: 'fine', collectors: ['skb', 'skb-tracking'], probes: ['tp:net:netif_receive_skb'], filter: 'icmp' },
      ],
    }),
  );
  const agg = await startAggregator({ store: `${tmp.dir}/badprobe`, traces: f, certs });
  procs.push(agg);
  const agent = startAgent({
    node: 'node-a',
    server: agg.address,
    certs,
    nodeNetns: lab.nodeNetns('node-a'),
  });
  procs.push(agent);
  await agent.waitFor(/trace typo could not start: /);
  await agent.waitFor(/trace fine: \d+ probe\(s\) attached/);
  const typo = await until('the failure in the summary', () =>
    summary(agg.address, 'typo').nodes.find((n) => n.state === 'failed'),
  );
  expect(typo.error).toMatch(/netif_recieve_skb/);
  ping('b', 'a');
  await until('the other trace going on', () => summary(agg.address, 'fine').nodes.find((n) => n.events > 0));
  await agent.stop('SIGTERM');
});
