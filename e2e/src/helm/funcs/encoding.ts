// toYaml/toJson/fromYaml/fromJson as Helm has them, b64enc and sha256sum. Helm marshals through
// JSON (sigs.k8s.io/yaml): map keys come out sorted, numbers plain, and YAML 1.1 is spoken (so
// `yes` and `on` are booleans and strings like them get quoted).
import { createHash } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { isMap, toStr, type GoFunc, type GoMap } from '../values.js';
import { str } from './args.js';

/** Template values to plain JSON-able data: ints to numbers, methods dropped. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (isMap(v)) {
    const out: GoMap = {};
    for (const k of Object.keys(v).sort()) if (typeof v[k] !== 'function') out[k] = plain(v[k]);
    return out;
  }
  return v === undefined ? null : v;
}

export const YAML_OPTIONS = { version: '1.1', sortMapEntries: true, indentSeq: false, lineWidth: 0 } as const;

export function toYaml(v: unknown): string {
  try {
    return stringify(plain(v), YAML_OPTIONS).replace(/\n$/, '');
  } catch {
    return ''; // Helm swallows marshalling errors
  }
}

/** encoding/json: sorted keys, and <, >, & escaped as Go does for HTML safety. */
export function toJson(v: unknown): string {
  try {
    return (JSON.stringify(plain(v)) ?? 'null').replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  } catch {
    return '';
  }
}

/** YAML 1.1 text as Helm reads it; numbers are float64 as JSON makes them. */
export function parseYaml(text: string): unknown {
  return parse(text, { version: '1.1', intAsBigInt: false });
}

export const encoding: Record<string, GoFunc> = {
  toYaml,
  toJson,
  toPrettyJson: (v) => JSON.stringify(plain(v), null, 2),
  fromYaml: (text) => {
    try {
      const v = parseYaml(str(text));
      return isMap(v) ? v : {};
    } catch (e) {
      return { Error: (e as Error).message };
    }
  },
  fromJson: (text) => {
    try {
      const v: unknown = JSON.parse(str(text));
      return isMap(v) ? v : {};
    } catch (e) {
      return { Error: (e as Error).message };
    }
  },
  b64enc: (s) => Buffer.from(str(s)).toString('base64'),
  b64dec: (s) => Buffer.from(str(s), 'base64').toString('utf8'),
  sha256sum: (s) => createHash('sha256').update(str(s)).digest('hex'),
  toStrings: (v) => (Array.isArray(v) ? v.map(toStr) : [toStr(v)]),
};
