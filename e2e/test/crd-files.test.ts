// The CRDs (crds/): the chart's copies equal them, ClusterTrace's schema is Trace's plus its
// namespace selector, and the examples (crds/examples/) pass their schema. How a real API server
// applies them: crd-validation.test.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { COLLECTOR_NAMES } from '@retrace/spec';
import { validate, type Schema } from '../src/chart/json-schema.js';
import { parseYaml } from '../src/chart/manifests.js';
import { CHART, ROOT, arr, obj, type Obj } from '../src/chart/renders.js';

describe('CRDs', () => {
  const crd = (f: string): Obj => obj(parseYaml(readFileSync(join(ROOT, 'crds', f), 'utf8')));
  const schemaOf = (c: Obj): Obj => obj(obj(obj(arr(obj(c['spec'])['versions'])[0])['schema'])['openAPIV3Schema']);

  test("the chart's copies are identical to crds/ (node helm/retrace/sync-crds.mjs)", () => {
    execFileSync('node', [join(CHART, 'sync-crds.mjs'), '--check']);
  });

  test("ClusterTrace's spec is Trace's plus namespaceSelector; their status is the same", () => {
    const strip = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(strip)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'description')
                .map(([k, e]) => [k, strip(e)]),
            )
          : v;
    const t = schemaOf(crd('trace.yaml'));
    const c = schemaOf(crd('clustertrace.yaml'));
    const tSpec = obj(strip(obj(t['properties'])['spec']));
    const cSpec = obj(strip(obj(c['properties'])['spec']));
    const { namespaceSelector, ...cRest } = obj(cSpec['properties']);
    expect(namespaceSelector).toEqual(obj(tSpec['properties'])['podSelector']);
    expect({ ...cSpec, properties: cRest }).toEqual(tSpec);
    expect(strip(obj(c['properties'])['status'])).toEqual(strip(obj(t['properties'])['status']));
    expect(obj(obj(crd('trace.yaml')['spec'])['names'])['shortNames']).toEqual(['rt']);
    expect(obj(obj(crd('clustertrace.yaml')['spec'])['names'])['shortNames']).toEqual(['crt']);
    expect(obj(crd('clustertrace.yaml')['spec'])['scope']).toBe('Cluster');
  });

  test('the examples pass their CRD schema (structural checks, as the API server makes them)', () => {
    const dir = join(ROOT, 'crds', 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBe(3);
    for (const f of files) {
      const ex = obj(parseYaml(readFileSync(join(dir, f), 'utf8')));
      const schema = toJsonSchema(schemaOf(crd(ex['kind'] === 'Trace' ? 'trace.yaml' : 'clustertrace.yaml')));
      expect([f, validate(schema as Schema, ex)]).toEqual([f, []]);
    }
    // And something wrong is caught.
    const t = toJsonSchema(schemaOf(crd('trace.yaml'))) as Schema;
    expect(
      validate(t, { spec: { collectors: ['skb', 'tcp'], probes: ['nope:x'], duration: '10 minutes', maxEvents: -1 } }),
    ).toEqual([
      // (the enum is the agent's registry, in its order: agent/gen-collector-names.mjs)
      `/spec/collectors/1: "tcp" is not one of ${COLLECTOR_NAMES.map((n) => `"${n}"`).join(', ')}`,
      '/spec/probes/0: "nope:x" does not match pattern "^(kprobe|kretprobe|tp|raw_tp|tp_btf|fentry|fexit|usdt):\\\\S+$"',
      '/spec/duration: "10 minutes" does not match pattern "^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$"',
      '/spec/maxEvents: -1 is less than 0',
    ]);
    expect(validate(t, { spec: { namespaceSelector: {} } })).toEqual([
      '/spec: additional property "namespaceSelector" is not allowed',
    ]);
  });
});

/** A CRD's structural schema as plain JSON schema: x-kubernetes-* dropped, unknown fields refused. */
function toJsonSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (typeof s !== 'object' || s === null) return s;
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-')) continue;
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(obj(v)).map(([p, e]) => [p, toJsonSchema(e)]))
        : toJsonSchema(v);
  }
  if (
    out['type'] === 'object' &&
    out['properties'] &&
    out['additionalProperties'] === undefined &&
    !('x-kubernetes-preserve-unknown-fields' in obj(s))
  )
    out['additionalProperties'] = false;
  if (out['format'] === 'int64' || out['format'] === 'int32') delete out['format'];
  return out;
}
