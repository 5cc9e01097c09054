// CustomResourceDefinitions: the checks the API server makes on a CRD, its status, and the
// resource type a stored CRD serves.
import { badRequest, fieldError, type FieldError } from './errors.js';
import { clone, isObj, type KubeObject, type Obj } from './json.js';
import type { Admitted, AdmitContext, ResourceType } from './resource-type.js';
import { compileRules, runRules, type CompiledRules } from './rules.js';
import { applyDefaults, prune, STRING_FORMATS, validate, type Schema } from './schema.js';

export const CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FORBIDDEN = ['$ref', 'additionalItems', 'patternProperties', 'dependencies', 'definitions', 'id'];
// Every keyword this fake enforces (or that has no effect). Anything else a real server might
// enforce (allOf, anyOf, oneOf, not, embedded resources...) is refused rather than ignored.
const KNOWN = new Set([
  ...['type', 'properties', 'required', 'items', 'additionalProperties', 'enum', 'pattern', 'format', 'nullable'],
  ...['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength'],
  ...['minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'default'],
  ...['description', 'title', 'example', 'externalDocs', 'x-kubernetes-map-type', 'x-kubernetes-validations'],
  ...['x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type'],
  'x-kubernetes-list-map-keys',
]);
const FORMATS = new Set(['int32', 'int64', 'float', 'double', 'byte', 'password', ...Object.keys(STRING_FORMATS)]);

interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: Schema };
  subresources?: { status?: Obj };
}

interface Names {
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  shortNames: string[];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const spec = (crd: KubeObject): Obj => (isObj(crd.spec) ? crd.spec : {});
const versionsOf = (crd: KubeObject): Version[] => {
  const versions = spec(crd).versions;
  return Array.isArray(versions) ? versions.filter(isObj).map((v) => v as unknown as Version) : [];
};

function namesOf(crd: KubeObject): Names {
  const n = isObj(spec(crd).names) ? (spec(crd).names as Obj) : {};
  const kind = str(n.kind);
  return {
    plural: str(n.plural),
    singular: str(n.singular) || kind.toLowerCase(),
    kind,
    listKind: str(n.listKind) || `${kind}List`,
    shortNames: Array.isArray(n.shortNames) ? n.shortNames.map(str) : [],
  };
}

/** Structural-schema rules: every node typed (bar int-or-string / preserve-unknown-fields). */
function structural(s: Schema, path: string, errs: FieldError[], where: 'root' | 'field' | 'item'): void {
  const type = s.type;
  const loose = s['x-kubernetes-int-or-string'] || s['x-kubernetes-preserve-unknown-fields'];
  if (where === 'root' && type !== 'object') {
    errs.push(
      type
        ? fieldError.invalid(`${path}.type`, type, 'must be object at the root')
        : fieldError.required(`${path}.type`, 'must not be empty at the root'),
    );
  } else if (!type && !loose) {
    errs.push(
      fieldError.required(
        `${path}.type`,
        `must not be empty for specified ${where === 'item' ? 'array items' : 'object fields'}`,
      ),
    );
  }
  if (s['x-kubernetes-int-or-string'] && type)
    errs.push(fieldError.invalid(`${path}.type`, type, 'must be empty if x-kubernetes-int-or-string is true'));
  for (const key of FORBIDDEN)
    if (s[key] !== undefined) errs.push(fieldError.forbidden(`${path}.${key}`, `${key} is not supported`));
  for (const key of Object.keys(s)) {
    if (!KNOWN.has(key) && !FORBIDDEN.includes(key)) {
      errs.push(fieldError.forbidden(`${path}.${key}`, `${key} is not implemented by kube-fake`));
    }
  }
  if (s.format !== undefined && !FORMATS.has(s.format)) {
    errs.push(fieldError.notSupported(`${path}.format`, s.format, [...FORMATS]));
  }
  if (s.uniqueItems === true) {
    errs.push(
      fieldError.forbidden(
        `${path}.uniqueItems`,
        'uniqueItems cannot be set to true since the runtime complexity becomes quadratic',
      ),
    );
  }
  if (s.properties && s.additionalProperties !== undefined) {
    errs.push(
      fieldError.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'),
    );
  }
  if (type === 'array' && !isObj(s.items)) errs.push(fieldError.required(`${path}.items`, 'must be specified'));
  const listType = s['x-kubernetes-list-type'];
  if (listType !== undefined && !['atomic', 'set', 'map'].includes(listType)) {
    errs.push(fieldError.notSupported(`${path}.x-kubernetes-list-type`, listType, ['atomic', 'map', 'set']));
  }
  if (listType === 'set' && s.items && ['object', 'array'].includes(s.items.type ?? '')) {
    errs.push(
      fieldError.invalid(`${path}.items.type`, s.items.type, 'must be a scalar type if x-kubernetes-list-type is set'),
    );
  }
  if (listType === 'map' && !s['x-kubernetes-list-map-keys']?.length) {
    errs.push(
      fieldError.required(`${path}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'),
    );
  }
  for (const [key, prop] of Object.entries(s.properties ?? {}))
    structural(prop, `${path}.properties[${key}]`, errs, 'field');
  if (isObj(s.additionalProperties))
    structural(s.additionalProperties as Schema, `${path}.additionalProperties`, errs, 'field');
  if (isObj(s.items)) structural(s.items, `${path}.items`, errs, 'item');
  if (s.default !== undefined) checkDefault(s, `${path}.default`, errs);
}

/** A default must itself be valid and must not carry fields the schema would prune. */
function checkDefault(s: Schema, path: string, errs: FieldError[]): void {
  const value = clone(s.default);
  const unknown: string[] = [];
  prune(value, s, path, unknown);
  for (const field of unknown) errs.push(fieldError.invalid(field, s.default, 'must not have unknown fields'));
  validate(value, s, path, errs);
}

/** The API server's checks on a CRD (the parts this fake implements). */
export function validateCrd(crd: KubeObject, old?: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const group = str(spec(crd).group);
  const names = namesOf(crd);
  if (!group) errs.push(fieldError.required('spec.group'));
  else if (!group.includes('.'))
    errs.push(fieldError.invalid('spec.group', group, 'should be a domain with at least one dot'));
  if (!names.plural) errs.push(fieldError.required('spec.names.plural'));
  else if (!DNS_LABEL.test(names.plural))
    errs.push(
      fieldError.invalid(
        'spec.names.plural',
        names.plural,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
      ),
    );
  if (!names.kind) errs.push(fieldError.required('spec.names.kind'));
  names.shortNames.forEach((n, i) => {
    if (!DNS_LABEL.test(n))
      errs.push(
        fieldError.invalid(
          `spec.names.shortNames[${i}]`,
          n,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        ),
      );
  });
  if (crd.metadata.name !== `${names.plural}.${group}`) {
    errs.push(fieldError.invalid('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group'));
  }
  const scope = spec(crd).scope;
  if (scope !== 'Namespaced' && scope !== 'Cluster')
    errs.push(fieldError.notSupported('spec.scope', scope, ['Cluster', 'Namespaced']));
  if (old && spec(old).scope !== scope) errs.push(fieldError.invalid('spec.scope', scope, 'field is immutable'));
  const conversion = spec(crd).conversion;
  if (isObj(conversion) && conversion.strategy !== undefined && conversion.strategy !== 'None') {
    errs.push(fieldError.notSupported('spec.conversion.strategy', conversion.strategy, ['None']));
  }
  const versions = versionsOf(crd);
  if (!versions.length)
    errs.push(fieldError.required('spec.versions', 'must have exactly one version marked as storage version'));
  else if (versions.filter((v) => v.storage === true).length !== 1) {
    errs.push(
      fieldError.invalid(
        'spec.versions',
        versions.map((v) => v.name),
        'must have exactly one version marked as storage version',
      ),
    );
  }
  versions.forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    if (!v.name || !DNS_LABEL.test(v.name)) errs.push(fieldError.invalid(`${at}.name`, v.name, 'must be a DNS label'));
    if (versions.findIndex((w) => w.name === v.name) < i) errs.push(fieldError.duplicate(`${at}.name`, v.name));
    const schema = v.schema?.openAPIV3Schema;
    if (!isObj(schema)) return errs.push(fieldError.required(`${at}.schema.openAPIV3Schema`, 'schemas are required'));
    const before = errs.length;
    structural(schema, `${at}.schema.openAPIV3Schema`, errs, 'root');
    if (errs.length === before) compileRules(schema, `${at}.schema.openAPIV3Schema`, errs);
  });
  return errs;
}

/** Admission of a CRD: validate, then record what the API server's controllers would report. */
export function admitCrd(crd: KubeObject, ctx: AdmitContext): Admitted {
  const errors = validateCrd(crd, ctx.old);
  if (errors.length) return { errors, unknown: [] };
  const names = namesOf(crd);
  const s = spec(crd);
  s.names = { ...(s.names as Obj), singular: names.singular, listKind: names.listKind };
  if (!ctx.old) crd.metadata.finalizers = [...new Set([...(crd.metadata.finalizers ?? []), CRD_FINALIZER])];
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const oldConditions =
    isObj(ctx.old?.status) && Array.isArray(ctx.old.status.conditions) ? ctx.old.status.conditions : [];
  const since = (type: string): unknown => {
    const found: unknown = oldConditions.find((c: unknown) => isObj(c) && c.type === type && c.status === 'True');
    return isObj(found) ? found.lastTransitionTime : now;
  };
  const storage = versionsOf(crd).find((v) => v.storage)?.name ?? '';
  const oldStored =
    isObj(ctx.old?.status) && Array.isArray(ctx.old.status.storedVersions) ? ctx.old.status.storedVersions : [];
  crd.status = {
    conditions: [
      {
        type: 'NamesAccepted',
        status: 'True',
        lastTransitionTime: since('NamesAccepted'),
        reason: 'NoConflicts',
        message: 'no conflicts found',
      },
      {
        type: 'Established',
        status: 'True',
        lastTransitionTime: since('Established'),
        reason: 'InitialNamesAccepted',
        message: 'the initial names have been accepted',
      },
    ],
    acceptedNames: s.names,
    storedVersions: [...new Set([...oldStored, storage])],
  };
  return { errors: [], unknown: [] };
}

interface ServedVersion {
  schema: Schema;
  rules: CompiledRules;
}

/** The custom resource type a valid, stored CRD serves. */
export function customResourceType(crd: KubeObject): ResourceType {
  const names = namesOf(crd);
  const versions = new Map<string, ServedVersion>();
  const statusVersions = new Set<string>();
  for (const v of versionsOf(crd)) {
    const schema = v.schema?.openAPIV3Schema ?? {};
    if (v.served) versions.set(v.name, { schema, rules: compileRules(schema, '', []) });
    if (v.served && isObj(v.subresources?.status)) statusVersions.add(v.name);
  }
  return {
    group: str(spec(crd).group),
    versions: [...versions.keys()],
    storageVersion: versionsOf(crd).find((v) => v.storage)?.name ?? '',
    ...names,
    namespaced: spec(crd).scope === 'Namespaced',
    statusVersions,
    builtin: false,
    fieldSelectors: [],
    unconditionalUpdate: false,
    returnsDeleted: false,
    admit(obj, ctx) {
      const served = versions.get(ctx.version);
      if (!served) throw badRequest(`version ${ctx.version} is not served`);
      if (!ctx.old && statusVersions.has(ctx.version)) delete obj.status;
      const unknown: string[] = [];
      prune(obj, served.schema, '', unknown);
      applyDefaults(obj, served.schema);
      const errors: FieldError[] = [];
      validate(obj, served.schema, '', errors);
      if (!errors.some((e) => e.reason === 'FieldValueTypeInvalid')) {
        runRules(obj, ctx.old, served.schema, '', served.rules, errors);
      }
      return { errors, unknown };
    },
  };
}
