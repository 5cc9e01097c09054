import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { FakeApiServer } from '@retrace/kube-fake';
import { k8s, kubeConfig, refusal, widget, widgetCrdModel, WIDGETS } from './helpers.js';

describe('custom resources are validated through the CRD schema', () => {
  let server: FakeApiServer;
  let custom: CustomObjectsApi;
  let ext: ApiextensionsV1Api;
  const ns = { ...WIDGETS, namespace: 'default' };

  beforeAll(async () => {
    server = await FakeApiServer.start();
    const kc = kubeConfig(server);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: widgetCrdModel() });
  });
  afterAll(() => server.stop());

  const refused = async (spec: Record<string, unknown>) => {
    const r = await refusal(custom.createNamespacedCustomObject({ ...ns, body: widget('bad', spec) }));
    expect(r.code).toBe(422);
    expect(r.status.reason).toBe('Invalid');
    const details = r.status.details as { causes: { field: string; reason: string }[] };
    return { message: String(r.status.message), causes: details.causes };
  };

  test('bounds: the message and cause name the field', async () => {
    const r = await refused({ mode: 'fast', maxEvents: -1 });
    expect(r.message).toBe(
      `Widget.${WIDGETS.group} "bad" is invalid: spec.maxEvents: Invalid value: -1: spec.maxEvents in body should be greater than or equal to 0`,
    );
    expect(r.causes).toEqual([
      {
        field: 'spec.maxEvents',
        reason: 'FieldValueInvalid',
        message: 'Invalid value: -1: spec.maxEvents in body should be greater than or equal to 0',
      },
    ]);
  });

  test('type, enum, pattern, length, required, set and int32', async () => {
    expect((await refused({ mode: 'fast', maxEvents: 'many' })).causes).toEqual([
      expect.objectContaining({ field: 'spec.maxEvents', reason: 'FieldValueTypeInvalid' }),
    ]);
    expect((await refused({ mode: 'medium' })).message).toContain(
      'spec.mode: Unsupported value: "medium": supported values: "fast", "slow"',
    );
    expect((await refused({ mode: 'fast', name: 'Abc' })).message).toContain(
      `spec.name: Invalid value: "Abc": spec.name in body should match '^[a-z]+$'`,
    );
    expect((await refused({ mode: 'fast', name: 'abcdefghij' })).causes[0]).toMatchObject({
      field: 'spec.name',
      reason: 'FieldValueTooLong',
    });
    expect((await refused({})).message).toContain('spec.mode: Required value');
    expect((await refused({ mode: 'fast', ports: [80, 80] })).causes[0]).toMatchObject({
      field: 'spec.ports[1]',
      reason: 'FieldValueDuplicate',
    });
    expect((await refused({ mode: 'fast', ports: [1, 2, 3, 4, 5] })).causes[0]).toMatchObject({
      reason: 'FieldValueTooMany',
    });
    expect((await refused({ mode: 'fast', size: true })).causes[0]).toMatchObject({ field: 'spec.size' });
  });

  test('CEL rules: message, fieldPath, and transition rules with oldSelf', async () => {
    const r = await refused({ mode: 'fast', maxEvents: 5, minSize: 6 });
    expect(r.message).toContain('spec.minSize: Invalid value: "object": minSize must not exceed maxEvents');
    expect((await refused({ mode: 'fast', ports: [0] })).message).toContain(
      'spec.ports: Invalid value: "array": ports must be positive',
    );
    const made = (await custom.createNamespacedCustomObject({ ...ns, body: widget('cel', { mode: 'fast' }) })) as {
      spec: Record<string, unknown>;
    };
    const change = await refusal(
      custom.patchNamespacedCustomObject(
        { ...ns, name: 'cel', body: { spec: { ...made.spec, mode: 'slow' } } },
        mergePatch,
      ),
    );
    expect(change.code).toBe(422);
    expect(change.status.message).toContain('spec: Invalid value: "object": mode is immutable');
  });

  test('unknown fields are pruned, or refused under fieldValidation=Strict', async () => {
    const body = { ...widget('extra', { mode: 'fast', colour: 'red', extra: { anything: 1 } }), junk: true };
    const strict = await refusal(custom.createNamespacedCustomObject({ ...ns, body, fieldValidation: 'Strict' }));
    expect(strict.code).toBe(400);
    expect(strict.status.message).toContain('strict decoding error: unknown field "spec.colour", unknown field "junk"');
    const made = (await custom.createNamespacedCustomObject({ ...ns, body })) as Record<string, unknown>;
    expect(made.junk).toBeUndefined();
    expect(made.spec).toEqual({ mode: 'fast', maxEvents: 100, extra: { anything: 1 } });
  });

  test('a rule outside the CEL subset, or naming an undeclared field, fails the CRD', async () => {
    const crd = (rule: string) => {
      const model = widgetCrdModel();
      model.metadata = { name: `gizmos.${WIDGETS.group}` };
      model.spec.names = { plural: 'gizmos', kind: 'Gizmo' };
      const spec = model.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
      if (spec) spec.x_kubernetes_validations = [{ rule }];
      return model;
    };
    const subset = await refusal(ext.createCustomResourceDefinition({ body: crd('self.mode.startsWith("f")') }));
    expect(subset.code).toBe(422);
    expect(subset.status.message).toContain(
      'spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "self.mode.startsWith(\\"f\\")": compilation failed: unsupported CEL construct function \'startsWith\'',
    );
    const undeclared = await refusal(ext.createCustomResourceDefinition({ body: crd('self.colour == "red"') }));
    expect(undeclared.status.message).toContain("compilation failed: undefined field 'colour'");
    const mistyped = await refusal(ext.createCustomResourceDefinition({ body: crd('self.maxEvents == "x"') }));
    expect(mistyped.status.message).toContain("found no matching overload for '==' applied to '(int, string)'");
  });

  test('a CRD schema must be structural', async () => {
    const model = widgetCrdModel();
    model.metadata = { name: `gizmos.${WIDGETS.group}` };
    model.spec.names = { plural: 'gizmos', kind: 'Gizmo' };
    const spec = model.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
    if (spec?.properties) spec.properties.untyped = {};
    const r = await refusal(ext.createCustomResourceDefinition({ body: model }));
    expect(r.status.message).toContain(
      'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[untyped].type: Required value: must not be empty for specified object fields',
    );
  });
});

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
