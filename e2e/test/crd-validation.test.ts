// The CRDs as the chart renders them (the real helm binary), in a real API server (the run's test
// etcd + kube-apiserver): their structural schemas, defaults and CEL rules are the server's to
// enforce, so what they accept and refuse, and the reason and field given, is what a cluster says.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { K8S_BINARIES, sharedApiServer } from '../src/k8s/envtest.js';
import { ApiError, type KubeObject, type RestClient } from '../src/k8s/rest.js';
import { TestObjects, installCrds, uniqueName } from '../src/k8s/test-objects.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

let objects: TestObjects;
let rest: RestClient;
let shop: string;
/** Suffix of this file's ClusterTrace names (cluster-scoped: other tests may use the same). */
const id = uniqueName('crd');

/** The CRDs `helm template` renders for the chart's default values. */
function renderedCrds(version: string): KubeObject[] {
  const out = execFileSync(
    join(K8S_BINARIES, 'helm'),
    ['template', 'retrace', join(ROOT, 'helm', 'retrace'), '-n', 'retrace', '--kube-version', version],
    { encoding: 'utf8' },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o?.kind === 'CustomResourceDefinition');
}

beforeAll(async () => {
  const server = await sharedApiServer();
  rest = server.rest();
  const { gitVersion } = await rest.request<{ gitVersion: string }>('GET', '/version');
  const crds = renderedCrds(gitVersion);
  expect(crds.map((c) => c.metadata.name).sort()).toEqual(['clustertraces.retrace.dev', 'traces.retrace.dev']);
  await installCrds(rest, crds);
  objects = new TestObjects(server.kubeConfig());
  shop = await objects.namespace('shop');
});

afterAll(async () => objects?.cleanup());

const trace = (name: string, spec: Obj, kind = 'Trace'): KubeObject => ({
  apiVersion: 'retrace.dev/v1alpha1',
  kind,
  metadata: kind === 'Trace' ? { name, namespace: shop } : { name: `${name}-${id}` },
  spec,
});

interface Refusal {
  code: number;
  reason: string;
  message: string;
  /** `field: message` of each cause. */
  causes: string[];
}

/** What the server answers to `f`: the object, or its refusal. */
async function answer(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    const causes = e.causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`);
    return { code: e.code, reason: e.reason, message: e.serverMessage, causes } satisfies Refusal;
  }
}

/** A refusal of the object as invalid (422), naming `field` with a message matching `message`. */
const invalid = (field: string, message: RegExp): Refusal =>
  expect.objectContaining({
    code: 422,
    reason: 'Invalid',
    causes: expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${message.source}`)),
    ]),
  }) as Refusal;

test('the examples are accepted, and output.retention is defaulted', async () => {
  for (const f of readdirSync(join(ROOT, 'crds', 'examples'))) {
    const example = parse(readFileSync(join(ROOT, 'crds', 'examples', f), 'utf8')) as KubeObject;
    const o = trace(example.metadata.name, obj(example['spec']), example.kind);
    expect([f, (await objects.create(o)).metadata.uid]).toEqual([f, expect.any(String)]);
  }
  const t = await objects.create(trace('plain', { output: { pcap: true } }));
  expect(obj(obj(t['spec'])['output'])['retention']).toBe('24h');
});

test('the schema refuses wrong values naming each; unknown fields are dropped, or refused when strict', async () => {
  const bad = trace('bad', { collectors: ['skb', 'tcp'], probes: ['nope:x'], duration: '10 minutes', maxEvents: -1 });
  const refused = await answer(() => objects.create(bad));
  expect(refused).toMatchObject({ code: 422, reason: 'Invalid' });
  expect(refused).toEqual(invalid('spec.collectors[1]', /Unsupported value: "tcp"/));
  expect(refused).toEqual(invalid('spec.probes[0]', /should match '\^\(kprobe\|/));
  expect(refused).toEqual(invalid('spec.duration', /should match/));
  expect(refused).toEqual(invalid('spec.maxEvents', /should be greater than or equal to 0/));

  // namespaceSelector is ClusterTrace's alone.
  const extra = trace('extra', { namespaceSelector: {} });
  const path = await rest.collectionPath(extra.apiVersion, extra.kind, shop);
  const strict = await answer(() => rest.request('POST', `${path}?fieldValidation=Strict`, extra));
  expect(strict).toMatchObject({
    code: 400,
    reason: 'BadRequest',
    message: expect.stringContaining('unknown field "spec.namespaceSelector"'),
  });
  expect((await objects.create(extra))['spec']).toEqual({});
});

test('the CEL rules refuse what README.md says, naming the field and the reason', async () => {
  const create = (o: KubeObject): Promise<unknown> => answer(() => objects.create(o));
  expect(await create(trace('ovs', { collectors: ['skb'], ovsTrack: true }, 'ClusterTrace'))).toEqual(
    invalid('spec.ovsTrack', /ovsTrack needs the ovs collector/),
  );
  expect(await create(trace('ovs-ok', { collectors: ['ovs'], ovsTrack: true }, 'ClusterTrace'))).toMatchObject({
    metadata: { name: `ovs-ok-${id}` },
  });
  expect(await create(trace('ovs-auto', { ovsTrack: true }, 'ClusterTrace'))).toMatchObject({
    metadata: { name: `ovs-auto-${id}` },
  });
  expect(await create(trace('enr', { collectors: ['skb'], ovsEnrichFlows: true }, 'ClusterTrace'))).toEqual(
    invalid('spec.ovsEnrichFlows', /ovsEnrichFlows needs the ovs collector/),
  );
  expect(await create(trace('enr-rate', { ovsEnrichRate: 5 }, 'ClusterTrace'))).toEqual(
    invalid('spec.ovsEnrichRate', /ovsEnrichRate limits ovsEnrichFlows; set ovsEnrichFlows too/),
  );
  expect(
    await create(trace('enr-ok', { collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: 5 }, 'ClusterTrace')),
  ).toMatchObject({ metadata: { name: `enr-ok-${id}` }, spec: { ovsEnrichFlows: true, ovsEnrichRate: 5 } });
  expect(await create(trace('nft', { collectors: ['skb'], nftVerdicts: ['drop'] }))).toEqual(
    invalid('spec.nftVerdicts', /nftVerdicts needs the nft collector/),
  );
  expect(await create(trace('sec', { collectors: ['ct'], skbSections: ['packet'] }))).toEqual(
    invalid('spec.skbSections', /skbSections needs the skb collector/),
  );
  expect(await create(trace('sel', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } }))).toEqual(
    invalid('spec.podSelector.matchExpressions[0]', /In and NotIn need at least one value/),
  );
  expect(
    await create(
      trace('sel2', { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } }),
    ),
  ).toEqual(invalid('spec.podSelector.matchExpressions[0]', /Exists and DoesNotExist take none/));
});

test('a stopped trace stays stopped', async () => {
  const update = async (spec: Obj): Promise<KubeObject> => {
    const there = await rest.get<KubeObject>(trace('stopping', {}));
    return rest.replace({ ...trace('stopping', spec), metadata: { ...(there?.metadata ?? { name: 'stopping' }) } });
  };
  await objects.create(trace('stopping', { collectors: ['skb'] }));
  expect(obj((await update({ collectors: ['skb'], stopped: true }))['spec'])['stopped']).toBe(true);
  const refused = invalid('spec.stopped', /a stopped trace cannot be restarted/);
  expect(await answer(() => update({ collectors: ['skb'], stopped: false }))).toEqual(refused);
  expect(await answer(() => update({ collectors: ['skb'] }))).toEqual(refused);
});

test('the status subresource takes the operator status shape, and refuses a phase it does not know', async () => {
  const t = await objects.create(trace('with-status', {}));
  const status = {
    phase: 'Running',
    nodesReady: 2,
    nodesTotal: 3,
    events: 10,
    lost: 0,
    nodes: [
      {
        name: 'n1',
        state: 'Running',
        probesAttached: 3,
        probesFailed: [{ probe: 'kprobe:x', reason: 'no kprobes' }],
      },
    ],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Tracing',
        message: 'ok',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
    results: {
      aggregator: 'retrace-aggregator.retrace-system.svc:7443',
      trace: `${shop}/with-status`,
      storedEvents: 10,
    },
  };
  const written = await rest.replace({ ...t, status }, 'status');
  expect(written['status']).toEqual(status);
  // A status given on create is not the creator's to set: the server drops it.
  const made = await objects.create({ ...trace('status-on-create', {}), status: { phase: 'Running' } });
  expect(made['status']).toBeUndefined();
  expect(await answer(() => rest.setStatus(t, { phase: 'Sleeping' }))).toEqual(
    invalid('status.phase', /Unsupported value: "Sleeping"/),
  );
});
