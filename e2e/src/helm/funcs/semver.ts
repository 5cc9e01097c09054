// semverCompare as sprig has it (Masterminds semver): constraints like ">=1.30.0-0", "<1.25",
// "~1.29", "^1.2", joined by "," (and) or "||" (or). A pre-release version only satisfies a
// constraint that itself names a pre-release, as Masterminds decides.
import type { GoFunc } from '../values.js';
import { str } from './args.js';

interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

export class SemverError extends Error {
  constructor(what: string, text: string) {
    super(`${what} ${JSON.stringify(text)} is not a semantic version`);
    this.name = 'SemverError';
  }
}

function parseVersion(text: string, what = 'version'): Version & { parts: number } {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (!m) throw new SemverError(what, text);
  const num = (s: string | undefined): number => (s === undefined || s === 'x' || s === '*' ? 0 : Number(s));
  const parts =
    m[3] !== undefined && m[3] !== 'x' && m[3] !== '*' ? 3 : m[2] !== undefined && m[2] !== 'x' && m[2] !== '*' ? 2 : 1;
  return { major: num(m[1]), minor: num(m[2]), patch: num(m[3]), pre: m[4] ?? '', parts };
}

function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (!a) return 1; // a release is greater than its pre-releases
  if (!b) return -1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function compare(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

function satisfies(v: Version, constraint: string): boolean {
  const m = /^\s*(>=|<=|!=|=>|=<|>|<|=|~>|~|\^)?\s*(\S+)\s*$/.exec(constraint);
  if (!m) throw new SemverError('constraint', constraint);
  const op = m[1] ?? '=';
  const c = parseVersion(m[2] as string, 'constraint');
  if (v.pre && !c.pre) return false;
  const cmp = compare(v, c);
  switch (op) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '>':
      return cmp > 0;
    case '<':
      return cmp < 0;
    case '>=':
    case '=>':
      return cmp >= 0;
    case '<=':
    case '=<':
      return cmp <= 0;
    case '~':
    case '~>': {
      // ~1.2.3: >=1.2.3 <1.3.0; ~1: >=1 <2
      const upper =
        c.parts === 1
          ? { ...c, major: c.major + 1, minor: 0, patch: 0, pre: '' }
          : { ...c, minor: c.minor + 1, patch: 0, pre: '' };
      return cmp >= 0 && compare(v, upper) < 0;
    }
    default: {
      // ^1.2.3: >=1.2.3 <2.0.0; ^0.2.3: <0.3.0
      const upper =
        c.major > 0
          ? { ...c, major: c.major + 1, minor: 0, patch: 0, pre: '' }
          : { ...c, minor: c.minor + 1, patch: 0, pre: '' };
      return cmp >= 0 && compare(v, upper) < 0;
    }
  }
}

export function semverCompare(constraint: string, version: string): boolean {
  const v = parseVersion(version);
  return constraint.split('||').some((alt) =>
    alt
      .split(/,|\s+(?=[<>=!~^])/)
      .filter((c) => c.trim())
      .every((c) => satisfies(v, c)),
  );
}

export const semver: Record<string, GoFunc> = {
  semverCompare: (c, v) => semverCompare(str(c), str(v)),
};
