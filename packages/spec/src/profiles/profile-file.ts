// Reading profile files: YAML, possibly several documents (`---`), each one profile in format
// 1.x (version, name, about, collect/pcap entries of `when` conditions and `args`).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { YAMLMap } from 'yaml';

// The YAML parser loads when a profile is read: commands that read no profile (`retrace print`)
// should not pay for its 80-odd modules at start.
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') =>
  (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
import { ProfileFormatError } from './errors.js';
import { VersionRequirementError, parseVersionRequirement, type VersionComparator } from './kernel-version.js';

/** The profile format this retrace implements. */
export const PROFILE_FORMAT = { major: 1, minor: 0 } as const;

export type Section = 'collect' | 'pcap';
export const SECTIONS: readonly Section[] = ['collect', 'pcap'];

export type Condition =
  | { type: 'version'; text: string; requirement: VersionComparator[] }
  | { type: 'symbol'; name: string; exists: boolean };

/** One `key: value` of an entry's args: a string, a list (repeated flag) or null (bare flag). */
export interface ProfileArg {
  key: string;
  value: string | string[] | null;
  line: number;
}

export interface ProfileEntry {
  /** 1-based position in its section, as messages show it. */
  number: number;
  name?: string;
  when: Condition[];
  args: ProfileArg[];
  line: number;
}

export interface Profile {
  name: string;
  about: string;
  version: string;
  file: string;
  line: number;
  sections: Partial<Record<Section, ProfileEntry[]>>;
}

export interface ProfileFile {
  file: string;
  profiles: Profile[];
  /** Profiles skipped (another major version) or read partially (a newer minor). */
  warnings: string[];
  /** Names of the profiles skipped for their format version. */
  skipped: string[];
}

const PROFILE_KEYS = ['version', 'name', 'about', ...SECTIONS];
const ENTRY_KEYS = ['name', 'when', 'args'];

export function loadProfileFile(file: string): ProfileFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProfileFormatError(file, undefined, `cannot be read: ${(e as Error).message}`);
  }
  return parseProfileFile(text, file);
}

export function parseProfileFile(text: string, file: string): ProfileFile {
  const { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } = yaml();
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const fail = (node: unknown, reason: string): never => {
    throw new ProfileFormatError(file, lineOf(node), reason);
  };
  const out: ProfileFile = { file, profiles: [], warnings: [], skipped: [] };

  /** A scalar as the text the author wrote (1.50 stays "1.50", not 1.5); null for `~`. */
  const scalarText = (node: unknown, what: string): string | null => {
    if (node === null || node === undefined) return null;
    if (!isScalar(node)) return fail(node, `${what} must be a single value, not a ${isSeq(node) ? 'list' : 'mapping'}`);
    const v = node.value;
    if (v === null) return null;
    if (typeof v === 'string') return v;
    return node.source ?? String(v);
  };
  /** The node itself, or null when it is absent or `~`. */
  const scalarOrNull = (node: unknown): unknown =>
    node === null || (isScalar(node) && node.value === null) ? null : node;
  const str = (node: unknown, what: string): string => {
    const s = scalarText(node, what);
    if (s === null || (isScalar(node) && typeof node.value !== 'string')) return fail(node, `${what} must be a string`);
    return s;
  };
  const mapping = (node: unknown, what: string): YAMLMap<unknown, unknown> =>
    isMap(node) ? node : fail(node, `${what} must be a mapping (key: value lines)`);
  const keysOf = (map: YAMLMap<unknown, unknown>, allowed: string[], what: string, strict: boolean) => {
    const got = new Map<string, { key: unknown; value: unknown }>();
    for (const pair of map.items) {
      const key = str(pair.key, `a key of ${what}`);
      if (!allowed.includes(key)) {
        if (strict) fail(pair.key, `unknown key '${key}' in ${what}; known: ${allowed.join(', ')}`);
        continue;
      }
      got.set(key, { key: pair.key, value: pair.value });
    }
    return got;
  };

  const condition = (node: unknown, what: string): Condition => {
    const map = mapping(node, what);
    const type = map.get('type', true);
    const t = type === undefined ? fail(node, `${what} has no 'type' (version or symbol)`) : str(type, `${what} type`);
    if (t === 'version') {
      const keys = keysOf(map, ['type', 'version'], what, true);
      const v = keys.get('version');
      if (!v) return fail(node, `${what} (type version) needs 'version', e.g. ">=5.4, <6"`);
      const text = str(v.value, `${what} version`);
      try {
        return { type: 'version', text, requirement: parseVersionRequirement(text) };
      } catch (e) {
        if (e instanceof VersionRequirementError) return fail(v.value, e.message);
        throw e;
      }
    }
    if (t === 'symbol') {
      const keys = keysOf(map, ['type', 'name', 'exists'], what, true);
      const name = keys.get('name');
      if (!name) return fail(node, `${what} (type symbol) needs 'name', a kernel function or tracepoint`);
      const exists = keys.get('exists');
      const e = exists && isScalar(exists.value) ? exists.value.value : exists?.value;
      if (exists && typeof e !== 'boolean') return fail(exists.value, `${what} exists must be true or false`);
      return { type: 'symbol', name: str(name.value, `${what} name`), exists: e !== false };
    }
    return fail(type, `${what} type must be version or symbol, not '${t}'`);
  };

  const args = (node: unknown, what: string): ProfileArg[] =>
    mapping(node, what).items.map((pair) => {
      const key = str(pair.key, `a key of ${what}`);
      const line = lineOf(pair.key) ?? 0;
      if (isSeq(pair.value)) {
        const values = pair.value.items.map((item) => {
          const s = scalarText(item, `${what} ${key} item`);
          return s === null ? fail(item, `${what} ${key}: a list item cannot be empty (~)`) : s;
        });
        return { key, value: values, line };
      }
      return { key, value: scalarText(pair.value, `${what} ${key}`), line };
    });

  const entries = (node: unknown, section: Section, strict: boolean): ProfileEntry[] => {
    if (!isSeq(node)) return fail(node, `${section} must be a list of entries (- args: ...)`);
    return node.items.map((item, i) => {
      const what = `${section} entry ${i + 1}`;
      const keys = keysOf(mapping(item, what), ENTRY_KEYS, what, strict);
      const name = keys.get('name');
      const when = keys.get('when');
      const a = keys.get('args');
      if (!a) return fail(item, `${what} has no 'args'`);
      if (when && !isSeq(when.value)) return fail(when.value, `${what} when must be a list of conditions`);
      return {
        number: i + 1,
        ...(name ? { name: str(name.value, `${what} name`) } : {}),
        when:
          when && isSeq(when.value) ? when.value.items.map((c, j) => condition(c, `${what} condition ${j + 1}`)) : [],
        args: args(a.value, `${what} args`),
        line: lineOf(item) ?? 0,
      };
    });
  };

  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) throw new ProfileFormatError(file, err.linePos?.[0].line, `invalid YAML: ${err.message.split('\n')[0]}`);
    if (doc.contents === null) continue; // an empty document, e.g. after a trailing ---
    const map = mapping(doc.contents, 'a profile');
    const versionNode = map.get('version', true);
    if (versionNode === undefined) fail(map, "no 'version' (the profile format, e.g. version: 1.0)");
    const version = scalarText(versionNode, 'version') ?? '';
    const m = /^(\d+)\.(\d+)$/.exec(version);
    if (!m) return fail(versionNode, `version must be MAJOR.MINOR (e.g. 1.0), got '${version}'`);
    const nameNode = map.get('name', true);
    const label = isScalar(nameNode) && typeof nameNode.value === 'string' ? nameNode.value : '(unnamed)';
    if (Number(m[1]) !== PROFILE_FORMAT.major) {
      out.warnings.push(
        `warning: ${file}: profile ${label} has format version ${version}; this retrace reads ${PROFILE_FORMAT.major}.x: skipped`,
      );
      out.skipped.push(label);
      continue;
    }
    // A newer minor may add keys we do not know: they are ignored instead of refused.
    const strict = Number(m[2]) <= PROFILE_FORMAT.minor;
    if (!strict)
      out.warnings.push(
        `warning: ${file}: profile ${label} has format version ${version}, newer than ${PROFILE_FORMAT.major}.${PROFILE_FORMAT.minor}: partial support (unknown keys ignored)`,
      );
    const keys = keysOf(map, PROFILE_KEYS, 'a profile', strict);
    const name = keys.get('name');
    if (!name) return fail(map, "no 'name'");
    const about = keys.get('about');
    const profile: Profile = {
      name: str(name.value, 'name'),
      about: about ? (scalarText(about.value, 'about') ?? '') : '',
      version,
      file,
      line: lineOf(map) ?? 1,
      sections: {},
    };
    if (!profile.name.trim()) fail(name.value, 'name must not be empty');
    for (const section of SECTIONS) {
      const s = keys.get(section);
      if (s && scalarOrNull(s.value) !== null) profile.sections[section] = entries(s.value, section, strict);
    }
    out.profiles.push(profile);
  }
  return out;
}
