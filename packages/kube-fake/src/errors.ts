// Failures as Kubernetes `Status` objects, with the API server's reasons and message shapes.
import type { Obj } from './json.js';

/** One cause of a 422: `message` is the part after the field, e.g. `Required value`. */
export interface FieldError {
  field: string;
  reason: string;
  message: string;
}

const show = (v: unknown): string => (v === undefined ? 'null' : JSON.stringify(v));
const cause = (field: string, reason: string, message: string): FieldError => ({ field, reason, message });

/** The causes the API server reports, worded as its field.Error types print them. */
export const fieldError = {
  invalid: (f: string, v: unknown, why: string) => cause(f, 'FieldValueInvalid', `Invalid value: ${show(v)}: ${why}`),
  typeInvalid: (f: string, v: unknown, why: string) =>
    cause(f, 'FieldValueTypeInvalid', `Invalid value: ${show(v)}: ${why}`),
  required: (f: string, why?: string) =>
    cause(f, 'FieldValueRequired', why ? `Required value: ${why}` : 'Required value'),
  notSupported: (f: string, v: unknown, allowed: unknown[]) =>
    cause(
      f,
      'FieldValueNotSupported',
      `Unsupported value: ${show(v)}: supported values: ${allowed.map(show).join(', ')}`,
    ),
  forbidden: (f: string, why: string) => cause(f, 'FieldValueForbidden', `Forbidden: ${why}`),
  tooLong: (f: string, max: number) => cause(f, 'FieldValueTooLong', `Too long: may not be more than ${max} bytes`),
  tooMany: (f: string, n: number, max: number) =>
    cause(f, 'FieldValueTooMany', `Too many: ${n}: must have at most ${max} items`),
  duplicate: (f: string, v: unknown) => cause(f, 'FieldValueDuplicate', `Duplicate value: ${show(v)}`),
};

/** A request the API server would refuse; `toStatus()` is the body it would send. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
    this.name = 'StatusError';
  }

  toStatus(): Obj {
    const status: Obj = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' };
    status.message = this.message;
    status.reason = this.reason;
    if (this.details) status.details = this.details;
    status.code = this.code;
    return status;
  }
}

/** `traces.retrace.dev`, or `pods` for the core group. */
const qualified = (name: string, group: string): string => (group ? `${name}.${group}` : name);
const about = (plural: string, group: string, name: string): Obj =>
  group ? { name, group, kind: plural } : { name, kind: plural };

export const notFound = (plural: string, group: string, name: string): StatusError =>
  new StatusError(404, 'NotFound', `${qualified(plural, group)} "${name}" not found`, about(plural, group, name));

export const alreadyExists = (plural: string, group: string, name: string): StatusError =>
  new StatusError(
    409,
    'AlreadyExists',
    `${qualified(plural, group)} "${name}" already exists`,
    about(plural, group, name),
  );

export const conflict = (plural: string, group: string, name: string, why: string): StatusError =>
  new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(plural, group)} "${name}": ${why}`,
    about(plural, group, name),
  );

export const badRequest = (message: string): StatusError => new StatusError(400, 'BadRequest', message);

export const pathNotFound = (): StatusError =>
  new StatusError(404, 'NotFound', 'the server could not find the requested resource', {
    causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }],
  });

/** 422 with one cause per field, worded like `Kind.group "name" is invalid: field: message`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): StatusError {
  const parts = errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
  const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new StatusError(422, 'Invalid', `${qualified(kind, group)} "${name}" is invalid: ${list}`, {
    ...about(kind, group, name),
    causes: errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}
