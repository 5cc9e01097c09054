// Which files make one input. A collection split by size (`--out-rotate`) is a set of files,
// each opening with a startup event whose `split_file.id` numbers it; a script names one of them
// (or the base name) and reads them all, in id order, as one stream of events.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { EventFileError } from './event-file-error.js';

/** The first line of a file (up to 64 KiB: a startup event is far smaller), or '' when empty. */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  } finally {
    closeSync(fd);
  }
}

/** The `split_file.id` of a file's startup event, or undefined when it is not part of a set. */
export function splitIdOf(path: string): number | undefined {
  let value: unknown;
  try {
    value = JSON.parse(firstLine(path));
  } catch {
    return undefined; // not JSON: the reader says so with the line number
  }
  // A sorted file holds series (arrays): it is never split.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const startup = (value as { startup?: { split_file?: { id?: unknown } } }).startup;
  const id = startup?.split_file?.id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : undefined;
}

const isFile = (path: string): boolean => existsSync(path) && statSync(path).isFile();

/**
 * The files to read for `path`, in order. A plain file is itself. `NAME.N` of a rotated set
 * brings the rest of its set from its own id on, as retis's reader follows `retis.data.0`, `.1`,
 * ...; `NAME` (a member itself, or absent beside `NAME.0`) is the whole set. Files are ordered by
 * their startup event's id, whatever their names say.
 */
export function resolveInputSet(path: string): string[] {
  if (path === '-') return [path];
  let base: string;
  let start: number;
  if (isFile(path)) {
    const id = splitIdOf(path);
    if (id === undefined) return [path];
    const numbered = /^(.*)\.\d+$/.exec(path)?.[1];
    base = numbered ?? path;
    // NAME.N reads on from its own id; the plain NAME is the whole set.
    start = numbered === undefined ? 0 : id;
  } else if (isFile(`${path}.0`) && splitIdOf(`${path}.0`) !== undefined) {
    base = path;
    start = 0;
  } else {
    throw new EventFileError(
      `cannot open events file ${path}: no such file (nor a rotated set ${path}.0, ${path}.1, ...)`,
      path,
    );
  }
  const candidates = isFile(base) ? [base] : [];
  // Numbered files run on from .0 (or from .1 beside the unnumbered newest file).
  for (let i = 0; ; i++) {
    const p = `${base}.${i}`;
    if (isFile(p)) candidates.push(p);
    else if (i > 0) break;
  }
  const members = candidates
    .map((p) => ({ p, id: splitIdOf(p) }))
    .filter((m): m is { p: string; id: number } => m.id !== undefined && m.id >= start)
    .sort((a, b) => a.id - b.id)
    .map((m) => m.p);
  return members.length ? members : [path];
}
