// labelSelector and fieldSelector query parameters, parsed as strictly as the API server does.
import { badRequest } from './errors.js';
import { isObj, type KubeObject } from './json.js';
import { LABEL_VALUE, validLabelKey } from './metadata.js';
import type { ResourceType } from './resource-type.js';

type Labels = Record<string, string>;
type Test = (labels: Labels) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b` -> [`a in (x,y)`, `b`]. */
function requirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function requirement(req: string): Test {
  const fail = (why: string): never => {
    throw badRequest(`unable to parse requirement: ${why}`);
  };
  const checkKey = (key: string): string => (validLabelKey(key) ? key : fail(`invalid label key "${key}"`));
  const checkValue = (v: string): string =>
    v.length <= 63 && LABEL_VALUE.test(v) ? v : fail(`invalid label value: "${v}"`);
  let m = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(req);
  if (m) {
    const [, key = '', op, list = ''] = m;
    checkKey(key);
    const values = list.split(',').map((v) => checkValue(v.trim()));
    if (op === 'in') return (l) => Object.hasOwn(l, key) && values.includes(l[key] ?? '');
    return (l) => !Object.hasOwn(l, key) || !values.includes(l[key] ?? '');
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
  if (m) {
    const [, key = '', op, value = ''] = m;
    checkKey(key);
    checkValue(value);
    if (op === '!=') return (l) => l[key] !== value;
    return (l) => Object.hasOwn(l, key) && l[key] === value;
  }
  m = /^(!?)\s*([^\s!=(),]+)$/.exec(req);
  if (m) {
    const [, not, key = ''] = m;
    checkKey(key);
    return not ? (l) => !Object.hasOwn(l, key) : (l) => Object.hasOwn(l, key);
  }
  return fail(`"${req}" is not a valid label selector requirement`);
}

export function parseLabelSelector(text: string): Test {
  const tests = text.trim() ? requirements(text).map(requirement) : [];
  return (labels) => tests.every((t) => t(labels));
}

function fieldValue(obj: KubeObject, path: string): string {
  let v: unknown = obj;
  for (const part of path.split('.')) v = isObj(v) ? v[part] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

export function parseFieldSelector(text: string, rt: ResourceType): (obj: KubeObject) => boolean {
  const known = ['metadata.name', 'metadata.namespace', ...rt.fieldSelectors];
  const tests = (text.trim() ? text.split(',') : []).map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const [, field = '', op, value] = m;
    if (!known.includes(field)) {
      throw badRequest(
        rt.builtin
          ? `field label not supported: ${field}`
          : `"${field}" is not a known field selector: only ${known.map((k) => `"${k}"`).join(', ')}`,
      );
    }
    return (obj: KubeObject) => (fieldValue(obj, field) === value) === (op !== '!=');
  });
  return (obj) => tests.every((t) => t(obj));
}

/** Both selectors as one test; either may be absent. Throws 400 for a bad selector. */
export function objectFilter(rt: ResourceType, labels?: string, fields?: string): (obj: KubeObject) => boolean {
  const byLabel = parseLabelSelector(labels ?? '');
  const byField = parseFieldSelector(fields ?? '', rt);
  return (obj) => byLabel(obj.metadata.labels ?? {}) && byField(obj);
}
