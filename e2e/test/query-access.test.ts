// The query API of a real retrace-aggregator process, over mutual TLS with certificates made as
// the other e2e tests make them: an agent's certificate gets nothing (PERMISSION_DENIED naming
// the certificate and why), a user's certificate reads as before, and a stream beyond
// --max-queries is refused with RESOURCE_EXHAUSTED naming the limit and its flag.
import { readFileSync } from 'node:fs';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { makeTestCerts, runRetrace, startAggregator, type Proc, type TestCerts } from '@retrace/e2e';
import { type EventChunk, type EventsRequest, type ListTracesResponse } from '@retrace/events';
import { QueryService } from '@retrace/wire';
import { QueryClient, QueryError } from '@retrace/cli';
import { tempDir } from './helpers.js';
import { fillStore } from './query-fixtures.js';

const tmp = tempDir();
let certs: TestCerts;
let agg: Proc & { address: string };
const clients: Client[] = [];

// Large enough that a paused reader holds its stream open (several MiB of JSON).
const TRACES = { 'team-a/web': 30_000, 'team-b/db': 10 };

beforeAll(async () => {
  certs = makeTestCerts();
  fillStore(`${tmp.dir}/store`, TRACES);
  agg = await startAggregator({
    store: `${tmp.dir}/store`,
    certs,
    // The test CA's agent certificate is CN=agent (the chart's is retrace-agent, the default).
    extra: ['--agent-identities', 'agent', '--max-queries', '1'],
  });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await agg?.stop('SIGKILL');
  certs?.remove();
  tmp.remove();
});

const Ctor = makeGenericClientConstructor(QueryService, 'Query');

/** A query client with a certificate: the agents' (agent), or the server's (a user's, as the chart has it). */
function client(who: 'agent' | 'user'): Client {
  const [cert, key] = who === 'agent' ? [certs.clientCert, certs.clientKey] : [certs.serverCert, certs.serverKey];
  const c = new Ctor(
    agg.address,
    credentials.createSsl(readFileSync(certs.ca), readFileSync(key), readFileSync(cert)),
    { 'grpc.ssl_target_name_override': 'localhost', 'grpc.max_receive_message_length': 64 << 20 },
  );
  clients.push(c);
  return c;
}

type Unary = (req: object, md: Metadata, cb: (e: ServiceError | null, r?: unknown) => void) => void;

function unary<T>(c: Client, method: 'ListTraces' | 'GetSummary', req: object): Promise<T> {
  const fn = (c as unknown as Record<string, Unary>)[method] as Unary;
  return new Promise((resolve, reject) => fn.call(c, req, new Metadata(), (e, r) => (e ? reject(e) : resolve(r as T))));
}

function events(c: Client, trace: string): ClientReadableStream<EventChunk> {
  const req: EventsRequest = { trace, format: 'json', node: '', pod: '', drop_reason: '' };
  return (c as unknown as { StreamEvents: (r: EventsRequest) => ClientReadableStream<EventChunk> }).StreamEvents(req);
}

const refusal = (p: Promise<unknown>): Promise<ServiceError> =>
  p.then(
    () => {
      throw new Error('the call was answered');
    },
    (e: ServiceError) => e,
  );

const serverArgs = (who: 'agent' | 'user'): string[] => [
  '--server',
  agg.address,
  '--ca',
  certs.ca,
  '--cert',
  who === 'agent' ? certs.clientCert : certs.serverCert,
  '--key',
  who === 'agent' ? certs.clientKey : certs.serverKey,
];

test("an agent's certificate gets nothing from the query API: listing, summaries and events are refused, naming it and why", async () => {
  const c = client('agent');
  // The CN and the DNS name of the test CA's agent certificate.
  const said = /refused for certificate agent, agent: it is an agent's certificate/;
  const list = await refusal(unary(c, 'ListTraces', {}));
  expect(list.code).toBe(7); // PERMISSION_DENIED
  expect(list.details).toMatch(said);
  expect(list.details).toMatch(
    /identities agent, set by --agent-identities\); agents send events and may not read them/,
  );
  const summary = await refusal(unary(c, 'GetSummary', { trace: 'team-a/web' }));
  expect(summary.code).toBe(7);
  // Not even whether a trace exists is told.
  const unknown = await refusal(unary(c, 'GetSummary', { trace: 'no/such-trace' }));
  expect(unknown.code).toBe(7);
  const stream = events(c, 'team-a/web');
  let chunks = 0;
  stream.on('data', () => chunks++);
  const err = await new Promise<ServiceError>((resolve) => stream.on('error', resolve));
  expect(chunks).toBe(0);
  expect(err.code).toBe(7);
  expect(err.details).toMatch(/the events of team-a\/web refused for certificate agent/);

  // The CLI shows the aggregator's reason and fails.
  const r = runRetrace(['events', 'team-a/web', ...serverArgs('agent'), '-o', `${tmp.dir}/agent.json`]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(said);
  await agg.waitFor(/listing traces refused for certificate agent/); // logged as it is sent
});

test("an agent's certificate bound to its node is refused whatever its names, saying which node", async () => {
  const node = certs.nodeCert('node-a');
  const c = new Ctor(
    agg.address,
    credentials.createSsl(readFileSync(certs.ca), readFileSync(node.key), readFileSync(node.cert)),
    { 'grpc.ssl_target_name_override': 'localhost' },
  );
  clients.push(c);
  const e = await refusal(unary(c, 'ListTraces', {}));
  expect(e.code).toBe(7);
  expect(e.details).toMatch(/listing traces refused for certificate agent-node-a, .*bound to node node-a/);
});

test("a user's certificate reads as before: every trace listed, a trace's journeys written to a file", async () => {
  const c = client('user');
  const list = await unary<ListTracesResponse>(c, 'ListTraces', {});
  expect((list.traces ?? []).map((t) => t.trace).sort()).toEqual(Object.keys(TRACES).sort());
  const r = runRetrace(['events', 'team-a/web', ...serverArgs('user'), '-o', `${tmp.dir}/web.json`]);
  expect(r.stderr).not.toMatch(/refused|aggregator at/);
  expect(r.code).toBe(0);
  const lines = readFileSync(`${tmp.dir}/web.json`, 'utf8').split('\n').filter(Boolean);
  expect(lines).toHaveLength(TRACES['team-a/web']);
  expect(lines[0]).toContain('"node-a/0"');
}, 60_000);

test('with --max-queries 1, a second stream while one is held open is refused with RESOURCE_EXHAUSTED naming the limit and its flag', async () => {
  const held = events(client('user'), 'team-a/web');
  held.on('error', () => undefined); // CANCELLED below
  await new Promise((r) => held.once('data', r)); // served: it holds the one slot
  held.pause(); // and reads no further, so it keeps it
  const r = runRetrace(['events', 'team-b/db', ...serverArgs('user'), '-o', `${tmp.dir}/db.json`]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/already streaming 1 query,.*--max-queries 1.*larger --max-queries/);
  held.cancel();
  // Once the held stream is cancelled, the slot is free again (polled: the aggregator learns of
  // the cancel asynchronously).
  let again = runRetrace(['events', 'team-b/db', ...serverArgs('user'), '-o', `${tmp.dir}/db.json`]);
  for (let i = 0; i < 50 && again.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 100));
    again = runRetrace(['events', 'team-b/db', ...serverArgs('user'), '-o', `${tmp.dir}/db.json`]);
  }
  expect(again.stderr).not.toMatch(/refused|already streaming/);
  expect(again.code).toBe(0);
  expect(readFileSync(`${tmp.dir}/db.json`, 'utf8').split('\n').filter(Boolean)).toHaveLength(TRACES['team-b/db']);
}, 60_000);

test("the CLI's query client, left after its first message, cancels the query: the one slot is free for the next", async () => {
  const tls = { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey };
  const first = new QueryClient(agg.address, tls, 'localhost');
  const req = (trace: string): EventsRequest => ({ trace, format: 'json', node: '', pod: '', drop_reason: '' });
  try {
    for await (const chunk of first.events(req('team-a/web'))) {
      expect(chunk.length).toBeGreaterThan(0);
      break; // the trace is far from read: the aggregator would wait on this reader for ever
    }
    // The next query is served once the aggregator has seen the cancel (polled: it arrives
    // asynchronously); RESOURCE_EXHAUSTED until then.
    let lines = -1;
    let last = '';
    for (let i = 0; i < 50 && lines < 0; i++) {
      const next = new QueryClient(agg.address, tls, 'localhost');
      try {
        let text = '';
        for await (const chunk of next.events(req('team-b/db'))) text += Buffer.from(chunk).toString('utf8');
        lines = text.split('\n').filter(Boolean).length;
      } catch (e) {
        if (!(e instanceof QueryError) || e.code !== 8) throw e;
        last = e.message;
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        next.close();
      }
    }
    expect({ lines, refused: lines < 0 ? last : '' }).toEqual({ lines: TRACES['team-b/db'], refused: '' });
  } finally {
    first.close();
  }
});
