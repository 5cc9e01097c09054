// The values templates work on, modelled on Go's: nil (null/undefined), bool, int (bigint: template
// literals and sprig's int), float64 (number: every number read from YAML or JSON, as Helm's values
// are), string, slices (arrays), maps (plain objects) and methods (functions, called when a field
// names them). The distinction between int and float64 matters: Go prints float64 1000000 as
// 1e+06 and refuses `eq` between an int and a float64, and charts must survive both.

export type GoFunc = (...args: unknown[]) => unknown;
export type GoMap = { [key: string]: unknown };

/**
 * Methods of an object (Go's methods on a struct or named map type, e.g. .Files.Get): reachable
 * as fields, but not keys, so ranging over the object or marshalling it never sees them.
 */
export const METHODS: unique symbol = Symbol('methods');
export type WithMethods = GoMap & { [METHODS]?: Record<string, GoFunc> };

export const methodOf = (v: unknown, name: string): GoFunc | undefined =>
  isMap(v) ? (v as WithMethods)[METHODS]?.[name] : undefined;

export type Kind = 'invalid' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'func';

export const isMap = (v: unknown): v is GoMap =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

export function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'invalid';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'string';
    case 'function':
      return 'func';
  }
  if (Array.isArray(v) || v instanceof Uint8Array) return 'slice';
  return 'map';
}

/** Go's truth for if/with/and/or/not: false, 0, nil, and empty strings, slices and maps are false. */
export function truth(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
      return (v as bigint) !== 0n;
    case 'float':
      return (v as number) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as GoMap).length > 0;
    case 'func':
      return true;
  }
}

/** Go's strconv.FormatFloat(v, 'g', -1, 64), which %v uses: exponent form from 1e+06 up. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa = '', expText = '0'] = v.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(v);
}

/** fmt.Sprint of one value, as text/template prints an action's result. */
export function printValue(v: unknown, nested = false): string {
  switch (kindOf(v)) {
    case 'invalid':
      return nested ? '<nil>' : '<no value>';
    case 'bool':
    case 'int':
    case 'string':
      return String(v);
    case 'float':
      return formatFloat(v as number);
    case 'slice':
      return `[${Array.from(v as ArrayLike<unknown>, (e) => printValue(e, true)).join(' ')}]`;
    case 'map': {
      const m = v as GoMap;
      return `map[${Object.keys(m)
        .sort()
        .map((k) => `${k}:${printValue(m[k], true)}`)
        .join(' ')}]`;
    }
    case 'func':
      return '<func>';
  }
}

/** A value as the string sprig's functions take (sprig's strval / cast.ToString). */
export function toStr(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return printValue(v, true);
}

/** Go's type names, for error messages and typeOf. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return v instanceof Uint8Array ? '[]uint8' : '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'func':
      return 'func';
  }
}

/** Deep copy of plain data (maps and slices), so that functions like merge never alias values. */
export function deepCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map((e: unknown) => deepCopy(e)) as T;
  if (isMap(v)) {
    const out: GoMap = {};
    for (const [k, e] of Object.entries(v)) out[k] = deepCopy(e);
    return out as T;
  }
  return v;
}
