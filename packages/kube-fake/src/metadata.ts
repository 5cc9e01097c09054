// Decoding a request body into an object, and the ObjectMeta rules every resource shares.
import { badRequest, fieldError, type FieldError } from './errors.js';
import { isObj, type KubeObject } from './json.js';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const stringMap = (v: unknown): boolean => isObj(v) && Object.values(v).every((x) => typeof x === 'string');

/** Shape checks a typed decoder would make: wrong JSON types in metadata are a 400, as in Go. */
export function decodeObject(body: unknown): KubeObject {
  if (!isObj(body)) throw badRequest('the body of the request must be a JSON object');
  const meta = body.metadata ?? {};
  if (!isObj(meta)) throw badRequest('metadata must be an object');
  for (const key of ['name', 'generateName', 'namespace', 'resourceVersion', 'uid'] as const) {
    if (meta[key] !== undefined && typeof meta[key] !== 'string') throw badRequest(`metadata.${key} must be a string`);
  }
  for (const key of ['labels', 'annotations'] as const) {
    if (meta[key] !== undefined && meta[key] !== null && !stringMap(meta[key])) {
      throw badRequest(`metadata.${key} must be a map of strings`);
    }
  }
  const fin = meta.finalizers;
  if (fin !== undefined && fin !== null && !(Array.isArray(fin) && fin.every((f) => typeof f === 'string'))) {
    throw badRequest('metadata.finalizers must be a list of strings');
  }
  for (const key of ['apiVersion', 'kind'] as const) {
    if (body[key] !== undefined && typeof body[key] !== 'string') throw badRequest(`${key} must be a string`);
  }
  return { ...body, metadata: meta } as KubeObject;
}

function validName(name: string, dnsLabel: boolean): string | undefined {
  if (dnsLabel && (name.length > 63 || !LABEL.test(name))) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  }
  if (name.length > 253 || !SUBDOMAIN.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

function validLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  if (slash >= 0 && validName(key.slice(0, slash), false)) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** Name, label and finalizer syntax; the API server checks these for every kind. */
export function validateMeta(obj: KubeObject, dnsLabelName: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const { name = '', labels = {}, annotations = {}, finalizers = [] } = obj.metadata;
  const nameProblem = validName(name, dnsLabelName);
  if (nameProblem) errs.push(fieldError.invalid('metadata.name', name, nameProblem));
  for (const [key, value] of Object.entries(labels)) {
    if (!validLabelKey(key))
      errs.push(fieldError.invalid('metadata.labels', key, 'name part must be a valid label key'));
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      errs.push(
        fieldError.invalid(
          'metadata.labels',
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
    }
  }
  for (const key of Object.keys(annotations)) {
    if (!validLabelKey(key))
      errs.push(fieldError.invalid('metadata.annotations', key, 'name part must be a valid annotation key'));
  }
  finalizers.forEach((f, i) => {
    if (!validLabelKey(f))
      errs.push(fieldError.invalid(`metadata.finalizers[${i}]`, f, 'name part must be a valid qualified name'));
  });
  return errs;
}

export { validLabelKey, LABEL_VALUE };
