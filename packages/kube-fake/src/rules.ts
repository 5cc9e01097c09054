// x-kubernetes-validations: compiled once per CRD version, run over a custom resource after
// its OpenAPI validation (skipped when that found type errors, as the API server does).
import { CelCompileError, CelEvalError, compile, type Program } from './cel.js';
import { fieldError, type FieldError } from './errors.js';
import { isObj } from './json.js';
import { childSchema, join, type Schema, type ValidationRule } from './schema.js';

interface Compiled {
  rule: ValidationRule;
  program: Program;
}
export type CompiledRules = Map<Schema, Compiled[]>;

const REASONS = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];
const FIELD_PATH = /\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]/gy;

/** The schema a rule's fieldPath (`.a.b` or `['a']`) points at, if it names declared fields. */
function resolve(s: Schema, fieldPath: string): Schema | undefined {
  let node: Schema | undefined = s;
  let end = 0;
  FIELD_PATH.lastIndex = 0;
  for (let m = FIELD_PATH.exec(fieldPath); m && node; m = FIELD_PATH.exec(fieldPath)) {
    node = childSchema(node, m[1] ?? m[2] ?? '');
    end = FIELD_PATH.lastIndex;
  }
  return end === fieldPath.length && end > 0 ? node : undefined;
}

/** Compiles every rule under `s`; problems become errors at the CRD field (`path`). */
export function compileRules(
  s: Schema,
  path: string,
  errs: FieldError[],
  out: CompiledRules = new Map(),
): CompiledRules {
  const compiled: Compiled[] = [];
  (s['x-kubernetes-validations'] ?? []).forEach((rule, i) => {
    const at = `${path}.x-kubernetes-validations[${i}]`;
    if (rule.messageExpression !== undefined) {
      errs.push(
        fieldError.invalid(
          `${at}.messageExpression`,
          rule.messageExpression,
          'kube-fake does not evaluate messageExpression; use message',
        ),
      );
    }
    if (rule.fieldPath !== undefined && !resolve(s, rule.fieldPath)) {
      errs.push(fieldError.invalid(`${at}.fieldPath`, rule.fieldPath, 'fieldPath must be a valid path'));
    }
    if (rule.reason !== undefined && !REASONS.includes(rule.reason))
      errs.push(fieldError.notSupported(`${at}.reason`, rule.reason, REASONS));
    if (typeof rule.rule !== 'string') return errs.push(fieldError.required(`${at}.rule`));
    try {
      compiled.push({ rule, program: compile(rule.rule, s) });
    } catch (e) {
      if (!(e instanceof CelCompileError)) throw e;
      errs.push(fieldError.invalid(`${at}.rule`, rule.rule, `compilation failed: ${e.message}`));
    }
  });
  if (compiled.length) out.set(s, compiled);
  for (const [key, prop] of Object.entries(s.properties ?? {}))
    compileRules(prop, `${path}.properties[${key}]`, errs, out);
  if (isObj(s.additionalProperties))
    compileRules(s.additionalProperties as Schema, `${path}.additionalProperties`, errs, out);
  if (s.items) compileRules(s.items, `${path}.items`, errs, out);
  return out;
}

function failure(path: string, s: Schema, rule: ValidationRule): FieldError {
  const message = rule.message ?? `failed rule: ${rule.rule.trim()}`;
  const type = s.type ?? 'object';
  if (rule.reason === 'FieldValueForbidden') return fieldError.forbidden(path, message);
  if (rule.reason === 'FieldValueRequired') return fieldError.required(path, message);
  if (rule.reason === 'FieldValueDuplicate') return fieldError.duplicate(path, type);
  return fieldError.invalid(path, type, message);
}

/** Items of a list-type map are matched to their old version by key, so oldSelf works there. */
function oldItem(s: Schema, item: unknown, old: unknown): unknown {
  const keys = s['x-kubernetes-list-map-keys'];
  if (s['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(old) || !isObj(item)) return undefined;
  return old.find((o) => isObj(o) && keys.every((k) => o[k] === item[k]));
}

/** Runs the rules on `value` (and below); `old` is the same field before an update, if any. */
export function runRules(
  value: unknown,
  old: unknown,
  s: Schema,
  path: string,
  rules: CompiledRules,
  errs: FieldError[],
): void {
  if (value === undefined || value === null) return;
  for (const { rule, program } of rules.get(s) ?? []) {
    if (program.transition && old === undefined) continue;
    const at = rule.fieldPath ? (path ? path + rule.fieldPath : rule.fieldPath.replace(/^\./, '')) : path;
    try {
      if (!program.run(value, old)) errs.push(failure(at, s, rule));
    } catch (e) {
      if (!(e instanceof CelEvalError)) throw e;
      errs.push(fieldError.invalid(at, s.type ?? 'object', `${e.message} evaluating rule: ${rule.rule}`));
    }
  }
  if (Array.isArray(value) && s.items) {
    value.forEach((item, i) => runRules(item, oldItem(s, item, old), s.items as Schema, `${path}[${i}]`, rules, errs));
  } else if (isObj(value)) {
    for (const [key, v] of Object.entries(value)) {
      const child = path || !['apiVersion', 'kind', 'metadata'].includes(key) ? childSchema(s, key) : undefined;
      if (child) runRules(v, isObj(old) ? old[key] : undefined, child, join(path, key), rules, errs);
    }
  }
}
