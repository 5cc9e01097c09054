// The chart's values and their schema (helm/retrace/values.schema.json), as helm applies it: bad
// values are refused naming the value, and every value in values.yaml is commented and described.
// That values.yaml and the ci values pass it: `helm lint --strict` in helm-chart.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { type Schema } from '../src/chart/json-schema.js';
import { CHART, obj, render, type Obj } from '../src/chart/renders.js';

describe('values and their schema', () => {
  // That values.yaml and the ci values pass the schema: `helm lint --strict` above.

  test('bad values are refused by helm, naming the value', async () => {
    const bad: [Obj, RegExp][] = [
      [{ tls: { source: 'vault' } }, /at '\/tls\/source': value must be one of 'helm', 'cert-manager', 'existing'/],
      [{ agent: { maxBufferBytes: 'lots' } }, /at '\/agent\/maxBufferBytes': got string, want integer/],
      [{ operator: { replica: 2 } }, /at '\/operator': additional properties 'replica' not allowed/],
      [{ agent: { extraCapabilities: ['ALL'] } }, /at '\/agent\/extraCapabilities\/0': 'not' failed/],
      [{ metrics: { port: 70000 } }, /at '\/metrics\/port': maximum: got 70,000, want 65,535/],
      [{ store: { persistence: { size: 'big' } } }, /at '\/store\/persistence\/size': 'big' does not match pattern/],
      [
        { agent: { appArmorProfile: { type: 'Localhost' } } },
        /at '\/agent\/appArmorProfile\/localhostProfile': minLength: got 0, want 1/,
      ],
    ];
    const results = await Promise.all(
      bad.map(([v]) =>
        render({ values: [v] }).then(
          () => 'rendered',
          (e: Error) => e.message,
        ),
      ),
    );
    bad.forEach(([v, re], i) =>
      expect([JSON.stringify(v), results[i]]).toEqual([
        JSON.stringify(v),
        expect.stringMatching(new RegExp(`values don't meet the specifications of the schema\\(s\\)[^]*${re.source}`)),
      ]),
    );
  });

  test('every value in values.yaml has a comment, and a schema entry', () => {
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
    const stack: { indent: number; key: string }[] = [];
    const missing: string[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.-]*):(.*)$/.exec(line);
      if (!m) return;
      const indent = (m[1] as string).length;
      while (stack.length && (stack[stack.length - 1] as { indent: number }).indent >= indent) stack.pop();
      const path = [...stack.map((s) => s.key), m[2] as string];
      stack.push({ indent, key: m[2] as string });
      // Inside a value the schema describes as one (resources, updateStrategy...), keys are
      // part of that value, documented with it; free-form maps (nodeSelector) likewise.
      const ancestors = path.slice(0, -1).map((_, n) => schemaAt(schema, path.slice(0, n + 1)));
      if (ancestors.some((a) => a === undefined || typeof a['description'] === 'string' || !('properties' in a)))
        return;
      if (schemaAt(schema, path) === undefined) missing.push(`${path.join('.')}: not in values.schema.json`);
      const group = (m[3] as string).trim() === '' && 'properties' in (schemaAt(schema, path) ?? {});
      if (!group && !/^\s*#/.test(lines[i - 1] ?? '')) missing.push(`${path.join('.')}: no comment`);
    });
    expect(missing).toEqual([]);
  });
});

/** The schema of a values path, following $refs; undefined when the schema does not describe it. */
function schemaAt(root: Schema, path: string[]): Obj | undefined {
  let cur: Obj | undefined = obj(root);
  for (const key of path) {
    while (cur && typeof cur['$ref'] === 'string') cur = obj(validateRef(root, cur['$ref']));
    const props: Obj = obj(cur?.['properties']);
    if (!(key in props)) return undefined;
    cur = obj(props[key]);
  }
  while (cur && typeof cur['$ref'] === 'string') cur = obj(validateRef(root, cur['$ref']));
  return cur;
}

function validateRef(root: Schema, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((o, k) => obj(o)[k], root);
}
