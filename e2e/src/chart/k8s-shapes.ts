// Checks rendered objects against the Kubernetes API's own types, as @kubernetes/client-node
// generates them from the OpenAPI spec: every field must exist in its type (a typo like
// `readOnlyRootFileSystem` is caught), hold the right JSON type, and required fields (the
// generator's non-optional properties) must be there. Kinds outside the core API
// (ServiceMonitor, cert-manager) are checked against small schemas of the fields we use.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as models from '@kubernetes/client-node/dist/gen/models/all.js';
import { validate, type Schema } from './json-schema.js';
import type { Manifest } from './manifests.js';

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}
type Model = { getAttributeTypeMap(): Attribute[] };

const registry = models as unknown as Record<string, Model | undefined>;
const modelsDir = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/gen/models/all.js'));
const requiredCache = new Map<string, Set<string>>();

/** Required properties of a model: those its generated declaration does not mark optional. */
function requiredOf(model: string): Set<string> {
  let r = requiredCache.get(model);
  if (!r) {
    const dts = readFileSync(join(modelsDir, `${model}.d.ts`), 'utf8');
    r = new Set([...dts.matchAll(/^\s+'([^']+)': /gm)].map((m) => m[1] as string));
    requiredCache.set(model, r);
  }
  return r;
}

/** The client's model of an apiVersion and kind: apps/v1 Deployment -> V1Deployment. */
export function modelFor(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').pop() as string;
  const name = `${version[0]?.toUpperCase()}${version.slice(1)}${kind}`;
  return registry[name] ? name : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkType(type: string, format: string, v: unknown, at: string, out: string[]): void {
  const bad = (want: string): void => {
    out.push(`${at}: got ${JSON.stringify(v)}, want ${want}`);
  };
  if (type === 'any') return;
  if (type === 'string') {
    if (typeof v !== 'string') bad('a string');
    return;
  }
  if (type === 'number') {
    if (typeof v !== 'number' || (format.startsWith('int') && !Number.isInteger(v))) bad(format || 'a number');
    return;
  }
  if (type === 'boolean') {
    if (typeof v !== 'boolean') bad('a boolean');
    return;
  }
  if (type === 'Date') {
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) bad('a date-time');
    return;
  }
  if (type === 'IntOrString') {
    if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) bad('an integer or a string');
    return;
  }
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (!Array.isArray(v)) return bad('a list');
    v.forEach((e, i) => checkType(arr[1] as string, format, e, `${at}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isObj(v)) return bad('a map');
    for (const [k, e] of Object.entries(v)) checkType(map[1] as string, format, e, `${at}.${k}`, out);
    return;
  }
  checkModel(type, v, at, out);
}

function checkModel(model: string, v: unknown, at: string, out: string[]): void {
  const m = registry[model];
  if (!m) {
    out.push(`${at}: no model ${model} in the Kubernetes client`);
    return;
  }
  if (!isObj(v)) {
    out.push(`${at}: got ${JSON.stringify(v)}, want an object (${model})`);
    return;
  }
  const attrs = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a]));
  for (const [k, e] of Object.entries(v)) {
    const a = attrs.get(k);
    if (!a) out.push(`${at}.${k}: no such field in ${model}`);
    else if (e !== null) checkType(a.type, a.format, e, `${at}.${k}`, out);
  }
  for (const r of requiredOf(model)) if (v[r] === undefined) out.push(`${at}: ${model} requires ${r}`);
}

// The fields we use of kinds the Kubernetes client does not know.
const selector: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } },
};
const issuerRef: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    kind: { enum: ['Issuer', 'ClusterIssuer'] },
    group: { type: 'string' },
  },
};
const meta: Schema = {
  type: 'object',
  required: ['name', 'namespace'],
  properties: {
    name: { type: 'string' },
    namespace: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
  },
  additionalProperties: false,
};
const objectSchema = (spec: Schema): Schema => ({
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: meta, spec },
});
const duration = { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$' };

export const CUSTOM_KINDS: Record<string, Schema> = {
  'monitoring.coreos.com/v1 ServiceMonitor': objectSchema({
    type: 'object',
    additionalProperties: false,
    required: ['selector', 'endpoints'],
    properties: {
      selector,
      namespaceSelector: {
        type: 'object',
        additionalProperties: false,
        properties: { matchNames: { type: 'array', items: { type: 'string' } } },
      },
      endpoints: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          properties: { port: { type: 'string' }, path: { type: 'string' }, interval: duration },
        },
      },
    },
  }),
  'cert-manager.io/v1 Issuer': objectSchema({
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      selfSigned: { type: 'object', additionalProperties: false },
      ca: {
        type: 'object',
        additionalProperties: false,
        required: ['secretName'],
        properties: { secretName: { type: 'string' } },
      },
    },
  }),
  'cert-manager.io/v1 Certificate': objectSchema({
    type: 'object',
    additionalProperties: false,
    required: ['secretName', 'issuerRef'],
    properties: {
      secretName: { type: 'string', minLength: 1 },
      commonName: { type: 'string', maxLength: 64 },
      dnsNames: { type: 'array', items: { type: 'string' } },
      isCA: { type: 'boolean' },
      usages: {
        type: 'array',
        items: { enum: ['server auth', 'client auth', 'digital signature', 'key encipherment', 'cert sign'] },
      },
      duration,
      renewBefore: duration,
      privateKey: {
        type: 'object',
        additionalProperties: false,
        properties: {
          rotationPolicy: { enum: ['Never', 'Always'] },
          algorithm: { enum: ['RSA', 'ECDSA', 'Ed25519'] },
          size: { type: 'integer' },
        },
      },
      issuerRef,
    },
  }),
};

/** Problems of one rendered object: unknown fields, wrong types, missing required fields. */
export function checkShape(m: Manifest): string[] {
  const { apiVersion, kind } = m.object;
  const where = `${kind}/${m.object.metadata.name}`;
  const custom = CUSTOM_KINDS[`${apiVersion} ${kind}`];
  if (custom) return validate(custom, m.object).map((p) => `${where}${p}`);
  const model = modelFor(apiVersion, kind);
  if (!model)
    return [
      `${where}: ${apiVersion} ${kind} is neither a Kubernetes kind nor one of ${Object.keys(CUSTOM_KINDS).join(', ')}`,
    ];
  const out: string[] = [];
  checkModel(model, m.object, where, out);
  return out;
}
