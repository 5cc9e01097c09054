// Where profiles are found: -P directories, retrace's own profiles/ (at the repository root,
// four levels above this module in both packages/spec/src/profiles/ and packages/spec/dist/profiles/),
// then retrace's per-user and system directories, then retis's (a retis user's profiles work
// as they are, retrace's own of the same name first).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuplicateProfileError, ProfileError, ProfileFormatError, ProfileNotFoundError } from './errors.js';
import { loadProfileFile, type Profile } from './profile-file.js';

export const BUILTIN_PROFILES_DIR = fileURLToPath(new URL('../../../../profiles', import.meta.url));

/** retis's own profile directories, in its order (retis/src/profiles: user, then system). */
export const RETIS_PROFILE_DIRS = (home: string): string[] => [
  join(home, '.config', 'retis', 'profiles'),
  '/usr/share/retis/profiles',
  '/etc/retis/profiles',
];

export function profileDirs(extra: readonly string[] = [], home: string = homedir()): string[] {
  const dirs = [
    ...extra,
    BUILTIN_PROFILES_DIR,
    join(home, '.config', 'retrace', 'profiles'),
    '/usr/share/retrace/profiles',
    '/etc/retrace/profiles',
    ...RETIS_PROFILE_DIRS(home),
  ].map((d) => resolve(d));
  return [...new Set(dirs)];
}

/** `-P` directories must exist: a typo there would otherwise just make the profile unknown. */
export function checkExtraDirs(dirs: readonly string[]): void {
  for (const d of dirs)
    if (!statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new ProfileError(`-P ${d}: no such directory`);
}

export interface DirectoryScan {
  dir: string;
  profiles: Profile[];
  /** Files that could not be read as profiles (reported, they do not stop the others). */
  broken: ProfileError[];
  /** Profiles skipped for their format version, or read partially. */
  warnings: string[];
  /** Names of profiles skipped for their format version, with their file. */
  skipped: { name: string; file: string }[];
}

const PROFILE_FILE = /\.ya?ml$/;

export function isProfilePath(arg: string): boolean {
  return arg.includes('/') || PROFILE_FILE.test(arg);
}

/** Every profile in the `.yaml`/`.yml` files of a directory (none when it does not exist). */
export function scanDirectory(dir: string): DirectoryScan {
  const scan: DirectoryScan = { dir, profiles: [], broken: [], warnings: [], skipped: [] };
  if (!existsSync(dir)) return scan;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => PROFILE_FILE.test(n));
  } catch (e) {
    scan.warnings.push(`cannot list ${dir}: ${(e as Error).message}`);
    return scan;
  }
  for (const name of names.sort()) {
    const file = join(dir, name);
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    try {
      const loaded = loadProfileFile(file);
      scan.profiles.push(...loaded.profiles);
      scan.warnings.push(...loaded.warnings);
      scan.skipped.push(...loaded.skipped.map((s) => ({ name: s, file })));
    } catch (e) {
      if (!(e instanceof ProfileError)) throw e;
      scan.broken.push(e);
    }
  }
  return scan;
}

/** A profile by file path (the file must hold exactly one) or by name along the directories. */
export function findProfile(arg: string, dirs: readonly string[], warn: (line: string) => void): Profile {
  if (isProfilePath(arg)) {
    const loaded = loadProfileFile(arg);
    loaded.warnings.forEach(warn);
    const [only, ...more] = loaded.profiles;
    if (!only) throw new ProfileFormatError(arg, undefined, 'holds no usable profile');
    if (more.length)
      throw new ProfileFormatError(
        arg,
        undefined,
        `holds several profiles (${loaded.profiles.map((p) => p.name).join(', ')}); choose one with -P <its directory> -p NAME`,
      );
    return only;
  }
  const available = new Set<string>();
  const notes: string[] = [];
  for (const dir of dirs) {
    const scan = scanDirectory(dir);
    scan.warnings.forEach(warn);
    for (const b of scan.broken) warn(`warning: skipped ${b.message}`);
    const found = scan.profiles.filter((p) => p.name === arg);
    if (found.length > 1)
      throw new DuplicateProfileError(
        arg,
        found.map((p) => p.file),
      );
    if (found[0]) return found[0];
    scan.profiles.forEach((p) => available.add(p.name));
    for (const s of scan.skipped.filter((s) => s.name === arg))
      notes.push(`${s.file} has a '${arg}' of another format version (skipped)`);
    if (scan.broken.length) notes.push(`${scan.broken.length} file(s) in ${dir} could not be read (see above)`);
  }
  throw new ProfileNotFoundError(arg, [...available].sort(), [...dirs], notes);
}
