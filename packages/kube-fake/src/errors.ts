// Failures as Kubernetes `Status` objects, with the API server's reasons and message shapes.
import type { Obj } from './json.js';

/** One cause of a 422: `message` is the part after the field, e.g. `Required value`. */
export interface FieldError {
  field: string;
  reason: string;
  message: string;
}

const show = (v: unknown): string => (v === undefined ? 'null' : JSON.stringify(v));

export const fieldError = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    field,
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${show(value)}: ${detail}`,
  }),
  typeInvalid: (field: string, value: unknown, detail: string): FieldError => ({
    field,
    reason: 'FieldValueTypeInvalid',
    message: `Invalid value: ${show(value)}: ${detail}`,
  }),
  required: (field: string, detail?: string): FieldError => ({
    field,
    reason: 'FieldValueRequired',
    message: detail ? `Required value: ${detail}` : 'Required value',
  }),
  notSupported: (field: string, value: unknown, allowed: unknown[]): FieldError => ({
    field,
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${show(value)}: supported values: ${allowed.map(show).join(', ')}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({
    field,
    reason: 'FieldValueForbidden',
    message: `Forbidden: ${detail}`,
  }),
  tooLong: (field: string, max: number): FieldError => ({
    field,
    reason: 'FieldValueTooLong',
    message: `Too long: may not be more than ${max} bytes`,
  }),
  tooMany: (field: string, n: number, max: number): FieldError => ({
    field,
    reason: 'FieldValueTooMany',
    message: `Too many: ${n}: must have at most ${max} items`,
  }),
  duplicate: (field: string, value: unknown): FieldError => ({
    field,
    reason: 'FieldValueDuplicate',
    message: `Duplicate value: ${show(value)}`,
  }),
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
