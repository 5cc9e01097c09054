// Rotated sets: `collect --out-rotate` (retis's and ours) writes FILE.0, FILE.1, ..., each opening
// with a startup event whose `split_file.id` is its index. A reader given `FILE.N..` (retis's
// syntax) reads FILE.N and the files after it as one input, in order, until one is missing or
// does not belong to the set (its startup says another index): a stale file of an earlier, longer
// run is never read as part of this one. The last file of a run killed before it could rename it
// is still FILE: it is read last when its startup says it is the next index.
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Startup } from './gen/event.js';
import { parseLine } from './json.js';

/** An input as given on a command line: a path, and whether to follow its rotated set (`..`). */
export interface InputSpec {
  path: string;
  follow: boolean;
}

/** `FILE..` follows FILE's rotated set; anything else is read alone. `-` (stdin) never follows. */
export function parseInputSpec(arg: string): InputSpec {
  if (arg !== '..' && arg.endsWith('..') && !arg.endsWith('/..')) return { path: arg.slice(0, -2), follow: true };
  return { path: arg, follow: false };
}

/** The first line of a startup event is short; a longer first line is no startup event of ours. */
const FIRST_LINE_MAX = 1 << 20;

/** The startup section of a file's first line, if it has one (undefined for anything else). */
export function readStartup(path: string): Partial<Startup> | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, size);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      const nl = chunk.indexOf(10);
      parts.push(Buffer.from(nl < 0 ? chunk : chunk.subarray(0, nl)));
      size += n;
      if (nl >= 0) break;
      if (size > FIRST_LINE_MAX) return undefined;
    }
    const line = Buffer.concat(parts).toString('utf8').trim();
    if (!line.startsWith('{')) return undefined;
    const ev = parseLine(line, 1);
    return Array.isArray(ev) ? undefined : ev.startup;
  } catch {
    return undefined; // not an events file we can place in a set: read alone
  } finally {
    closeSync(fd);
  }
}

/** Whether `p` is a regular file (false when it is missing or anything else). */
export const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** A file's place in its rotated set: the set's base name and the file's index. */
export interface SetMember {
  base: string;
  id: number;
}

/**
 * Where `path` stands in a rotated set: its startup event says it is file N of a split, and its
 * name ends in `.N`. Undefined for a file that is not one of a set.
 */
export function setMember(path: string): SetMember | undefined {
  const id = readStartup(path)?.split_file?.id;
  if (id === undefined) return undefined;
  const suffix = `.${id}`;
  if (!path.endsWith(suffix) || path.length === suffix.length) return undefined;
  return { base: path.slice(0, -suffix.length), id };
}

/**
 * The files an input reads, in order: `path` alone, or with `follow` the files of its rotated
 * set from `path` on (FILE.N, FILE.N+1, ... while each exists and says it is that index).
 */
export function inputFiles(spec: InputSpec): string[] {
  if (spec.path === '-' || !spec.follow) return [spec.path];
  const member = setMember(spec.path);
  if (!member) return [spec.path];
  const files = [spec.path];
  let id = member.id + 1;
  for (; ; id++) {
    const next = `${member.base}.${id}`;
    if (!isFile(next) || readStartup(next)?.split_file?.id !== id) break;
    files.push(next);
  }
  // A run killed before it could rename its last file left it under the plain name.
  if (isFile(member.base) && readStartup(member.base)?.split_file?.id === id) files.push(member.base);
  return files;
}

/**
 * Every existing file named `base.N` (N a decimal index), whichever run wrote it: what a rotated
 * output named `base` would write over.
 */
export function existingSetFiles(base: string): string[] {
  const dir = dirname(base);
  const name = basename(base);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const found: { id: number; path: string }[] = [];
  for (const e of entries) {
    if (!e.startsWith(`${name}.`)) continue;
    const idx = e.slice(name.length + 1);
    if (!/^\d+$/.test(idx)) continue;
    const path = join(dir, e);
    if (isFile(path)) found.push({ id: Number(idx), path });
  }
  return found.sort((a, b) => a.id - b.id).map((f) => f.path);
}
