// A CRD version's structural openAPIV3Schema applied to a custom resource, in the API server's
// order: prune unknown fields (and non-nullable nulls), apply defaults, then validate.
import { fieldError, type FieldError } from './errors.js';
import { clone, deepEqual, isObj, typeName } from './json.js';

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  multipleOf?: number;
  uniqueItems?: boolean;
  nullable?: boolean;
  default?: unknown;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
  [key: string]: unknown;
}

/** The schema of a property or map value, if `s` declares one. */
export function childSchema(s: Schema, key: string): Schema | undefined {
  if (s.properties && Object.hasOwn(s.properties, key)) return s.properties[key];
  return isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined;
}

export const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

// The root's apiVersion, kind and metadata belong to the API machinery, not to the schema.
const MACHINERY = new Set(['apiVersion', 'kind', 'metadata']);

/** Removes fields the schema does not declare, recording their paths in `unknown`. */
export function prune(value: unknown, s: Schema, path: string, unknown: string[]): void {
  if (Array.isArray(value)) {
    if (s.items) value.forEach((v, i) => prune(v, s.items as Schema, `${path}[${i}]`, unknown));
    return;
  }
  if (!isObj(value)) return;
  for (const key of Object.keys(value)) {
    if (!path && MACHINERY.has(key)) continue;
    const child = childSchema(s, key);
    if (!child) {
      if (s['x-kubernetes-preserve-unknown-fields'] || s.additionalProperties === true) continue;
      unknown.push(join(path, key));
      delete value[key];
    } else if (value[key] === null && !child.nullable) {
      delete value[key];
    } else prune(value[key], child, join(path, key), unknown);
  }
}

/** Fills in missing fields that have a default, then defaults inside them too. */
export function applyDefaults(value: unknown, s: Schema): void {
  if (Array.isArray(value)) {
    if (s.items) for (const v of value) applyDefaults(v, s.items);
    return;
  }
  if (!isObj(value)) return;
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    if (value[key] === undefined && prop.default !== undefined) value[key] = clone(prop.default);
    if (value[key] !== undefined) applyDefaults(value[key], prop);
  }
  if (isObj(s.additionalProperties)) {
    for (const v of Object.values(value)) applyDefaults(v, s.additionalProperties as Schema);
  }
}

function hasType(v: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObj(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    default:
      return typeof v === type;
  }
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const DATE = '\\d{4}-\\d{2}-\\d{2}';
/** String formats checked here; crd.ts refuses CRDs using others. */
export const STRING_FORMATS: Record<string, RegExp> = {
  date: new RegExp(`^${DATE}$`),
  'date-time': new RegExp(`^${DATE}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$`),
};

/** Checks `value` against `s`, appending to `errs`; FieldValueTypeInvalid errors stop CEL rules. */
export function validate(value: unknown, s: Schema, path: string, errs: FieldError[]): void {
  const inBody = `${path} in body`;
  const intOrString = s['x-kubernetes-int-or-string'];
  if (
    value === null
      ? !s.nullable
      : intOrString
        ? !Number.isInteger(value) && typeof value !== 'string'
        : s.type && !hasType(value, s.type)
  ) {
    const expected = intOrString ? 'integer,string' : s.type;
    errs.push(
      fieldError.typeInvalid(path, typeName(value), `${inBody} must be of type ${expected}: "${typeName(value)}"`),
    );
    return;
  }
  if (value === null) return;
  if (s.enum && !s.enum.some((e) => deepEqual(e, value))) errs.push(fieldError.notSupported(path, value, s.enum));
  if (typeof value === 'string') {
    const length = [...value].length;
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) {
      errs.push(fieldError.invalid(path, value, `${inBody} should match '${s.pattern}'`));
    }
    if (s.minLength !== undefined && length < s.minLength) {
      errs.push(fieldError.invalid(path, value, `${inBody} should be at least ${s.minLength} chars long`));
    }
    if (s.maxLength !== undefined && length > s.maxLength) errs.push(fieldError.tooLong(path, s.maxLength));
    const format = s.format ? STRING_FORMATS[s.format] : undefined;
    if (format && !format.test(value)) {
      errs.push(fieldError.invalid(path, value, `${inBody} must be of type ${s.format}: ${JSON.stringify(value)}`));
    }
  }
  if (typeof value === 'number') {
    const { minimum: min, maximum: max } = s;
    if (min !== undefined && (s.exclusiveMinimum ? value <= min : value < min)) {
      errs.push(
        fieldError.invalid(
          path,
          value,
          `${inBody} should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${min}`,
        ),
      );
    }
    if (max !== undefined && (s.exclusiveMaximum ? value >= max : value > max)) {
      errs.push(
        fieldError.invalid(
          path,
          value,
          `${inBody} should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${max}`,
        ),
      );
    }
    if (s.multipleOf && value % s.multipleOf !== 0) {
      errs.push(fieldError.invalid(path, value, `${inBody} should be a multiple of ${s.multipleOf}`));
    }
    const range = s.format ? INT_RANGE[s.format] : undefined;
    if (range && (value < range[0] || value > range[1])) {
      errs.push(fieldError.invalid(path, value, `${inBody} must be of type ${s.format}: "${value}"`));
    }
  }
  if (Array.isArray(value)) validateArray(value, s, path, errs);
  if (isObj(value)) {
    for (const key of s.required ?? []) if (value[key] === undefined) errs.push(fieldError.required(join(path, key)));
    const count = Object.keys(value).length;
    if (s.minProperties !== undefined && count < s.minProperties) {
      errs.push(fieldError.invalid(path, count, `${inBody} should have at least ${s.minProperties} properties`));
    }
    if (s.maxProperties !== undefined && count > s.maxProperties)
      errs.push(fieldError.tooMany(path, count, s.maxProperties));
    for (const [key, v] of Object.entries(value)) {
      const child = !path && MACHINERY.has(key) ? undefined : childSchema(s, key);
      if (child && v !== undefined) validate(v, child, join(path, key), errs);
    }
  }
}

function validateArray(value: unknown[], s: Schema, path: string, errs: FieldError[]): void {
  if (s.minItems !== undefined && value.length < s.minItems) {
    errs.push(fieldError.invalid(path, value.length, `${path} in body should have at least ${s.minItems} items`));
  }
  if (s.maxItems !== undefined && value.length > s.maxItems)
    errs.push(fieldError.tooMany(path, value.length, s.maxItems));
  const listType = s['x-kubernetes-list-type'];
  const keyOf = (item: unknown): unknown =>
    listType === 'map' && isObj(item) ? (s['x-kubernetes-list-map-keys'] ?? []).map((k) => item[k]) : item;
  if (listType === 'set' || listType === 'map') {
    value.forEach((item, i) => {
      if (value.slice(0, i).some((earlier) => deepEqual(keyOf(earlier), keyOf(item)))) {
        errs.push(fieldError.duplicate(`${path}[${i}]`, keyOf(item)));
      }
    });
  }
  if (s.items) value.forEach((v, i) => validate(v, s.items as Schema, `${path}[${i}]`, errs));
}
