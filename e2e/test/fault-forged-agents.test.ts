// Hostile agents against a real aggregator over mTLS: a certificate binds its agent to one node,
// an agent speaks only of traces assigned to it (it cannot create one), and names from the wire
// are checked before they reach logs and summaries.
import { writeFileSync } from 'node:fs';
import { makeGenericClientConstructor, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  clientTlsArgs,
  makeTestCerts,
  runRetrace,
  startAggregator,
  type Proc,
  type TestCerts,
  waitForValue,
} from '@retrace/e2e';
import { type AgentMessage, type ServerMessage } from '@retrace/events';
import { AgentLinkService, PROTOCOL_VERSION, channelCredentials } from '@retrace/wire';
import { tearDownCluster, tempDir } from './helpers.js';

const tmp = tempDir();
let certs: TestCerts;
const procs: Proc[] = [];
const clients: Client[] = [];
let agg: Proc & { address: string };

const AgentClient = makeGenericClientConstructor(AgentLinkService, 'AgentLink');

beforeAll(async () => {
  certs = makeTestCerts();
  const traces = `${tmp.dir}/traces.yaml`;
  writeFileSync(
    traces,
    JSON.stringify({ traces: [{ name: 'only-a', collectors: ['skb'], nodes: ['node-a'], filter: 'icmp' }] }),
  );
  agg = await startAggregator({ store: `${tmp.dir}/store`, traces, certs });
  procs.push(agg);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await tearDownCluster({ procs, certs, tmp });
});

/** A raw agent stream with the given certificate; `got` collects what the aggregator says. */
function open(cert: { cert: string; key: string }): {
  call: ClientDuplexStream<AgentMessage, ServerMessage>;
  got: ServerMessage[];
  register: (node: string) => void;
} {
  const client = new AgentClient(agg.address, channelCredentials({ ca: certs.ca, ...cert }));
  clients.push(client);
  const call = (client as unknown as { Connect: () => ClientDuplexStream<AgentMessage, ServerMessage> }).Connect();
  const got: ServerMessage[] = [];
  call.on('data', (m: ServerMessage) => got.push(m));
  call.on('error', () => undefined);
  return {
    call,
    got,
    register: (node) =>
      call.write({
        register: { protocol: PROTOCOL_VERSION, node, kernel_release: 'k', version: 't', incarnation: 'i1' },
      }),
  };
}

const until = <T>(what: string, f: () => T | undefined | false): Promise<T> => waitForValue(f, what, 10_000, 50);

test('a certificate bound to node-a cannot register as node-b, nor can one bound to no node', async () => {
  const posing = open(certs.nodeCert('node-a'));
  posing.register('node-b');
  const refused = await until('the refusal', () => posing.got.find((m) => m.error)?.error);
  expect(refused.fatal).toBe(true);
  expect(refused.message).toMatch(/not bound to node node-b: it may register only as node-a/);

  const unbound = open({ cert: certs.clientCert, key: certs.clientKey });
  unbound.register('node-a');
  const why = await until('the refusal', () => unbound.got.find((m) => m.error)?.error);
  expect(why.message).toMatch(/DNS name node-a\.nodes\.retrace in its subjectAltName.*--agent-certs shared/);

  // Its own node: welcomed, and assigned what runs there.
  const honest = open(certs.nodeCert('node-a'));
  honest.register('node-a');
  await until('the welcome', () => honest.got.find((m) => m.welcome));
  const a = await until('assignments', () => honest.got.find((m) => m.assignments)?.assignments);
  expect(a.traces?.map((t) => t.name)).toEqual(['only-a']);
  honest.call.cancel();
});

test('an agent cannot create a trace: batches for a trace not assigned to its node are refused, nothing is stored', async () => {
  const b = open(certs.nodeCert('node-b'));
  b.register('node-b');
  await until('the welcome', () => b.got.find((m) => m.welcome));
  for (const trace of ['only-a', 'made-up'])
    b.call.write({ batch: { trace, seq: 1n, events: [], lost: [], losses: [] } });
  await until('two refusals', () => b.got.filter((m) => m.error && !m.error.fatal).length >= 2);
  const errors = b.got.filter((m) => m.error).map((m) => m.error?.message ?? '');
  expect(errors.join('\n')).toMatch(/trace "only-a", which is not assigned to node node-b/);
  expect(errors.join('\n')).toMatch(/trace "made-up", which is not assigned to node node-b/);
  expect(b.got.some((m) => m.ack)).toBe(false);
  const traces = runRetrace(['traces', '--server', agg.address, ...clientTlsArgs(certs)]);
  expect(traces.code).toBe(0);
  expect(traces.stdout).not.toMatch(/made-up/);
  b.call.cancel();
});

test('a node name with control characters or 100 KB long is refused, and the log carries no raw copy', async () => {
  const forged = 'node-a\n2026-01-01 agent node-z registered \u001b[2J';
  const withNewline = open({ cert: certs.clientCert, key: certs.clientKey });
  withNewline.register(forged);
  const e1 = await until('the refusal', () => withNewline.got.find((m) => m.error)?.error);
  expect(e1.message).toMatch(/node name .* has characters other than letters, digits/);
  const huge = open({ cert: certs.clientCert, key: certs.clientKey });
  huge.register('n'.repeat(100_000));
  const e2 = await until('the refusal', () => huge.got.find((m) => m.error)?.error);
  expect(e2.message).toMatch(/node name is 100000 characters long \(at most 253\)/);
  // The forged text shows only escaped, inside the refusal's own line: no line of its own.
  expect(
    agg
      .log()
      .split('\n')
      .filter((l) => l.startsWith('2026-01-01')),
  ).toEqual([]);
  expect(agg.log()).not.toContain('\u001b[2J');
  expect(agg.log()).toContain('\\u001b[2J');
  expect(agg.log().length).toBeLessThan(50_000);
});
