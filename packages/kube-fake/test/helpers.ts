// Shared by the tests: a tiny CRD of our own, and client-node clients for a running fake.
import type { KubeConfig, V1CustomResourceDefinition } from '@kubernetes/client-node';
import type { FakeApiServer } from '@retrace/kube-fake';

export const k8s = await import('@kubernetes/client-node');

export const GROUP = 'test.kube-fake.dev';
export const WIDGETS = { group: GROUP, version: 'v1', plural: 'widgets' };

/** The CRD as client-node's typed models hold it (what `loadYaml` of the manifest gives). */
export function widgetCrdModel(): V1CustomResourceDefinition {
  return k8s.loadYaml<V1CustomResourceDefinition>(JSON.stringify(widgetCrd()));
}

/** The CRD in its wire (kubectl) form. */
export function widgetCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['mode'],
                  'x-kubernetes-validations': [
                    {
                      rule: '!has(self.minSize) || self.minSize <= self.maxEvents',
                      message: 'minSize must not exceed maxEvents',
                      fieldPath: '.minSize',
                    },
                    { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
                  ],
                  properties: {
                    mode: { type: 'string', enum: ['fast', 'slow'] },
                    maxEvents: { type: 'integer', format: 'int32', minimum: 0, maximum: 1000, default: 100 },
                    minSize: { type: 'integer' },
                    name: { type: 'string', pattern: '^[a-z]+$', maxLength: 8 },
                    ports: {
                      type: 'array',
                      maxItems: 4,
                      'x-kubernetes-list-type': 'set',
                      items: { type: 'integer' },
                      'x-kubernetes-validations': [{ rule: 'self.all(p, p > 0)', message: 'ports must be positive' }],
                    },
                    labels: { type: 'object', additionalProperties: { type: 'string' } },
                    extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    size: { 'x-kubernetes-int-or-string': true },
                  },
                },
                status: {
                  type: 'object',
                  properties: { phase: { type: 'string' }, observedGeneration: { type: 'integer' } },
                },
              },
            },
          },
        },
      ],
    },
  };
}

export function widget(name: string, spec: Record<string, unknown>, namespace = 'default'): Record<string, unknown> {
  return { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name, namespace }, spec };
}

export function kubeConfig(server: FakeApiServer): KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeConfig());
  return kc;
}

/** The Status body and code of a refused client-node call. */
export async function refusal(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      return { code: e.code, status: JSON.parse(String(e.body)) as Record<string, unknown> };
    }
    throw e;
  }
  throw new Error('the call was expected to be refused');
}
