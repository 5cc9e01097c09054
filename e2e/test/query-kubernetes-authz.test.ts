// Reading a trace through the query API follows the reader's Kubernetes RBAC on that Trace: a
// real retrace-aggregator run with --query-authz kubernetes against the test API server
// (e2e/src/k8s/envtest.ts) asks it, through TokenReview and SubjectAccessReview, whether the
// caller may `get` the Trace. Two ServiceAccounts: `reader`, bound to a Role allowing get on
// traces.retrace.dev in team-a, and `outsider`, bound to nothing. Without a token, the user is
// the one the client certificate names.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  clientTlsArgs,
  makeTestCerts,
  retraceBin,
  startAggregator,
  waitForValue,
  type Proc,
  type TestCerts,
} from '@retrace/e2e';
import {
  type AgentMessage,
  type EventChunk,
  type EventsRequest,
  type ListTracesResponse,
  type ServerMessage,
} from '@retrace/events';
import { AgentLinkService, PROTOCOL_VERSION, QueryService } from '@retrace/wire';
import { sharedApiServer, type TestApiServer } from '../src/k8s/envtest.js';
import { TestObjects } from '../src/k8s/test-objects.js';
import { tempDir } from './helpers.js';
import { fillStore } from './query-fixtures.js';

const tmp = tempDir();
let api: TestApiServer;
let objects: TestObjects;
let certs: TestCerts;
let agg: Proc & { address: string };
let teamA: string;
let teamB: string;
const tokens: Record<'reader' | 'outsider', string> = { reader: '', outsider: '' };
const clients: Client[] = [];

const WEB = 40;

beforeAll(async () => {
  api = await sharedApiServer();
  objects = new TestObjects(api.kubeConfig());
  teamA = await objects.namespace('team-a');
  teamB = await objects.namespace('team-b');
  for (const sa of ['reader', 'outsider'] as const) {
    await objects.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: teamA } });
    const kc = (await api.serviceAccountConfig(teamA, sa)).kubeConfig();
    tokens[sa] = kc.getCurrentUser()?.token ?? '';
  }
  await objects.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'trace-reader', namespace: teamA },
    rules: [{ apiGroups: ['retrace.dev'], resources: ['traces'], verbs: ['get'] }],
  });
  await objects.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'reader-reads-traces', namespace: teamA },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'trace-reader' },
    subjects: [
      { kind: 'ServiceAccount', name: 'reader', namespace: teamA },
      // The user a reader's certificate names (CN=alice), for a caller with no token.
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' },
    ],
  });

  certs = makeTestCerts();
  fillStore(`${tmp.dir}/store`, { [`${teamA}/web`]: WEB, [`${teamB}/db`]: 5, everything: 5 });
  // The aggregator asks the API server as the admin (a Deployment's ServiceAccount would need
  // create on tokenreviews and subjectaccessreviews): KUBECONFIG, as the flag's help says.
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = api.kubeconfig;
  try {
    agg = await startAggregator({
      store: `${tmp.dir}/store`,
      certs,
      extra: ['--query-authz', 'kubernetes', '--agent-identities', 'agent'],
    });
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await agg?.stop('SIGKILL');
  await objects?.cleanup();
  certs?.remove();
  tmp.remove();
});

const Ctor = makeGenericClientConstructor(QueryService, 'Query');

/** The CLI's TLS flags with the server's certificate (what users hold, as the chart has it). */
const userTls = (): string[] =>
  clientTlsArgs(certs).map((a) =>
    a === certs.clientCert ? certs.userCert('alice').cert : a === certs.clientKey ? certs.userCert('alice').key : a,
  );

function client(who: 'agent' | 'user' | 'aggregator' = 'user'): Client {
  const [cert, key] =
    who === 'agent'
      ? [certs.clientCert, certs.clientKey]
      : who === 'aggregator'
        ? [certs.serverCert, certs.serverKey]
        : [certs.userCert('alice').cert, certs.userCert('alice').key];
  const c = new Ctor(
    agg.address,
    credentials.createSsl(readFileSync(certs.ca), readFileSync(key), readFileSync(cert)),
    { 'grpc.ssl_target_name_override': 'localhost' },
  );
  clients.push(c);
  return c;
}

function md(token?: string): Metadata {
  const m = new Metadata();
  if (token) m.set('authorization', `Bearer ${token}`);
  return m;
}

type Unary = (req: object, md: Metadata, cb: (e: ServiceError | null, r?: unknown) => void) => void;

function list(token?: string, c = client()): Promise<string[]> {
  const fn = (c as unknown as Record<string, Unary>).ListTraces as Unary;
  return new Promise((resolve, reject) =>
    fn.call(c, {}, md(token), (e, r) =>
      e ? reject(e) : resolve(((r as ListTracesResponse).traces ?? []).map((t) => t.trace).sort()),
    ),
  );
}

/** The trace's journeys (JSON lines), or the error that ended the stream. */
function journeys(trace: string, token?: string, c = client()): Promise<string[]> {
  const req: EventsRequest = { trace, format: 'json', node: '', pod: '', drop_reason: '' };
  const s = (
    c as unknown as { StreamEvents: (r: EventsRequest, m: Metadata) => ClientReadableStream<EventChunk> }
  ).StreamEvents(req, md(token));
  let text = '';
  s.on('data', (d: EventChunk) => (text += Buffer.from(d.data).toString('utf8')));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(text.split('\n').filter(Boolean)));
    s.on('error', reject);
  });
}

const refusal = (p: Promise<unknown>): Promise<ServiceError> =>
  p.then(
    () => {
      throw new Error('the call was answered');
    },
    (e: ServiceError) => e,
  );

test("a ServiceAccount allowed to get traces in team-a reads team-a's trace, and only that one", async () => {
  expect(await list(tokens.reader)).toEqual([`${teamA}/web`]);
  expect(await journeys(`${teamA}/web`, tokens.reader)).toHaveLength(WEB);
  const other = await refusal(journeys(`${teamB}/db`, tokens.reader));
  expect(other.code).toBe(7); // PERMISSION_DENIED
  expect(other.details).toContain(
    `Kubernetes user system:serviceaccount:${teamA}:reader (from the bearer token) ` +
      `may not get traces.retrace.dev db in namespace ${teamB}`,
  );
  // A ClusterTrace needs get on clustertraces, which the Role does not give.
  const cluster = await refusal(journeys('everything', tokens.reader));
  expect(cluster.details).toMatch(/may not get clustertraces\.retrace\.dev everything.*a ClusterRole granting get/);
});

test("retrace events with $RETRACE_TOKEN reads as that ServiceAccount: team-a's trace to a file, team-b's refused", () => {
  const events = (trace: string, token: string) =>
    spawnSync(
      process.execPath,
      [retraceBin(), 'events', trace, '--server', agg.address, ...userTls(), '-o', `${tmp.dir}/out.json`],
      { env: { ...process.env, RETRACE_TOKEN: token }, encoding: 'utf8', timeout: 60_000 },
    );
  const ok = events(`${teamA}/web`, tokens.reader);
  expect(ok.stderr).not.toMatch(/refused/);
  expect(ok.status).toBe(0);
  expect(readFileSync(`${tmp.dir}/out.json`, 'utf8').split('\n').filter(Boolean)).toHaveLength(WEB);
  const no = events(`${teamB}/db`, tokens.reader);
  expect(no.status).not.toBe(0);
  expect(no.stderr).toContain(`system:serviceaccount:${teamA}:reader`);
  expect(no.stderr).toMatch(/may not get traces\.retrace\.dev db in namespace/);
});

test('a ServiceAccount without the Role lists nothing and is refused the trace, named in the message', async () => {
  expect(await list(tokens.outsider)).toEqual([]);
  const e = await refusal(journeys(`${teamA}/web`, tokens.outsider));
  expect(e.code).toBe(7);
  expect(e.details).toMatch(
    new RegExp(`the events of ${teamA}/web refused .*system:serviceaccount:${teamA}:outsider .*may not get traces`),
  );
  // The aggregator's log says who was refused (written as the refusal is sent: waited for).
  await agg.waitFor(new RegExp(`refused .*system:serviceaccount:${teamA}:outsider`));
});

test('a token the API server does not accept is UNAUTHENTICATED; without a token the certificate names the user', async () => {
  const bad = await refusal(list('not-a-token'));
  expect(bad.code).toBe(16); // UNAUTHENTICATED
  expect(bad.details).toMatch(
    /^listing traces refused for certificate alice, alice\.users\.retrace, with a bearer token: the Kubernetes API did not accept the bearer token/,
  );
  expect((await refusal(journeys(`${teamA}/web`, 'not-a-token'))).code).toBe(16);
  // CN=alice is bound to the Role in team-a, as a User.
  expect(await list()).toEqual([`${teamA}/web`]);
  expect(await journeys(`${teamA}/web`)).toHaveLength(WEB);
  expect((await refusal(journeys(`${teamB}/db`))).details).toMatch(
    /Kubernetes user alice \(the certificate's CN\) may not get traces/,
  );
});

test("the aggregator's own certificate reads every trace (its holder has the aggregator's key); with a token, the token's user reads", async () => {
  expect(await list(undefined, client('aggregator'))).toEqual([`${teamA}/web`, `${teamB}/db`, 'everything'].sort());
  expect(await journeys(`${teamB}/db`, undefined, client('aggregator'))).toHaveLength(5);
  expect((await refusal(journeys(`${teamB}/db`, tokens.reader, client('aggregator')))).code).toBe(7);
});

test("an agent's certificate is refused even with an allowed user's token", async () => {
  const e = await refusal(journeys(`${teamA}/web`, tokens.reader, client('agent')));
  expect(e.code).toBe(7);
  expect(e.details).toMatch(/it is an agent's certificate/);
});

test('--query-authz kubernetes with no Kubernetes configuration, or another value, is a usage error saying what to do', () => {
  const bin = join(dirname(retraceBin()), '..', '..', '..', 'aggregator', 'dist', 'bin', 'retrace-aggregator.js');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp.dir };
  const run = (authz: string) =>
    spawnSync(process.execPath, [bin, '--store', `${tmp.dir}/unused`, '--insecure', '--query-authz', authz], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
  const none = run('kubernetes');
  expect(none.status).toBe(2);
  expect(none.stderr).toContain(
    '--query-authz kubernetes: no Kubernetes API to ask who may read traces: set KUBECONFIG, or run the aggregator in a Pod',
  );
  const other = run('rbac');
  expect(other.status).toBe(2);
  expect(other.stderr).toContain(
    "--query-authz takes kubernetes (reading a trace needs get on it in Kubernetes RBAC), got 'rbac'",
  );
});

// With --query-authz kubernetes the TLS asks for a client certificate without requiring one: a
// reader is known by its token, and what needs a certificate (an agent) is refused in words.
describe('readers without a certificate', () => {
  let foreign: TestCerts;
  beforeAll(() => {
    foreign = makeTestCerts(); // another CA: its certificates verify nowhere here
  });
  afterAll(() => foreign?.remove());

  /** A client trusting our CA that presents no certificate, or `own`'s. */
  const bare = (own?: { cert: string; key: string }): Client => {
    const ca = readFileSync(certs.ca);
    const c = new Ctor(
      agg.address,
      own ? credentials.createSsl(ca, readFileSync(own.key), readFileSync(own.cert)) : credentials.createSsl(ca),
      { 'grpc.ssl_target_name_override': 'localhost' },
    );
    clients.push(c);
    return c;
  };

  test('a token alone reads what its user may; nothing at all is UNAUTHENTICATED, saying what to send', async () => {
    expect(await list(tokens.reader, bare())).toEqual([`${teamA}/web`]);
    expect(await journeys(`${teamA}/web`, tokens.reader, bare())).toHaveLength(WEB);
    expect((await refusal(journeys(`${teamB}/db`, tokens.reader, bare()))).code).toBe(7);
    const none = await refusal(list(undefined, bare()));
    expect(none.code).toBe(16);
    expect(none.details).toMatch(/no client certificate.*no bearer token and no client certificate/);
  });

  test("another CA's certificate counts for nothing: its CN names no user, and the aggregator says why", async () => {
    const own = foreign.userCert('alice'); // CN of the user bound in team-a, from a CA not trusted here
    expect((await refusal(list(undefined, bare(own)))).code).toBe(16);
    expect(await list(tokens.reader, bare(own))).toEqual([`${teamA}/web`]);
    await agg.waitFor(/presented a certificate \(CN .*\) this server's CA did not verify/);
  });

  test("an agent without a certificate our CA signed is refused registration, also as a node another CA's certificate names", async () => {
    const AgentClient = makeGenericClientConstructor(AgentLinkService, 'AgentLink');
    for (const own of [undefined, foreign.nodeCert('node-a')]) {
      const ca = readFileSync(certs.ca);
      const c = new AgentClient(
        agg.address,
        own ? credentials.createSsl(ca, readFileSync(own.key), readFileSync(own.cert)) : credentials.createSsl(ca),
        { 'grpc.ssl_target_name_override': 'localhost' },
      );
      clients.push(c);
      const call = (c as unknown as { Connect: () => ClientDuplexStream<AgentMessage, ServerMessage> }).Connect();
      const got: ServerMessage[] = [];
      call.on('data', (m: ServerMessage) => got.push(m));
      call.on('error', () => undefined);
      call.write({
        register: { protocol: PROTOCOL_VERSION, node: 'node-a', kernel_release: 'k', version: 't', incarnation: 'i1' },
      });
      const refused = await waitForValue(() => got.find((m) => m.error)?.error, 'the refusal', 10_000, 50);
      expect(refused.fatal).toBe(true);
      expect(refused.message).toMatch(/presented no client certificate the aggregator's CA signed/);
      expect(got.some((m) => m.welcome)).toBe(false);
    }
  });

  test('retrace events with --ca only and $RETRACE_TOKEN reads as the token user', () => {
    const out = `${tmp.dir}/bare.json`;
    const r = spawnSync(
      process.execPath,
      [
        retraceBin(),
        'events',
        `${teamA}/web`,
        '--server',
        agg.address,
        '--ca',
        certs.ca,
        '--tls-server-name',
        'localhost',
        '-o',
        out,
      ],
      { env: { ...process.env, RETRACE_TOKEN: tokens.reader }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toHaveLength(WEB);
  });
});
