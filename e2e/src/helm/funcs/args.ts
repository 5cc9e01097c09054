// Go's argument checks for typed function parameters: a template passes interface{} values, and
// Go refuses one whose type does not fit the parameter ("wrong type for value; expected int; got
// float64"). Keeping that strictness here catches the same chart mistakes `helm template` would.
import { isMap, typeName, type GoMap } from '../values.js';

export class ArgTypeError extends Error {
  constructor(expected: string, got: unknown) {
    super(
      got === null || got === undefined
        ? `invalid value; expected ${expected}`
        : `wrong type for value; expected ${expected}; got ${typeName(got)}`,
    );
    this.name = 'ArgTypeError';
  }
}

export function str(v: unknown): string {
  if (typeof v !== 'string') throw new ArgTypeError('string', v);
  return v;
}

/** A Go int parameter: int values only (a float64 from values.yaml needs `int` first). */
export function int(v: unknown): number {
  if (typeof v !== 'bigint') throw new ArgTypeError('int', v);
  return Number(v);
}

/** A map[string]interface{} parameter (nil passes as a nil map). */
export function map(v: unknown): GoMap | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isMap(v) || typeof v === 'function') throw new ArgTypeError('map[string]interface {}', v);
  return v;
}

/** A []interface{} parameter (nil passes as a nil slice). */
export function list(v: unknown): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new ArgTypeError('[]interface {}', v);
  return v;
}

/** Exactly n arguments, as Go checks for a function of n parameters. */
export function arity(name: string, args: unknown[], n: number): void {
  if (args.length !== n) throw new Error(`wrong number of args for ${name}: want ${n} got ${args.length}`);
}
