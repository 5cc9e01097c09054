// Which files make one input for a script. A collection split by size (`--out-rotate`) is a set
// of files, each opening with a startup event whose `split_file.id` numbers it; a script names
// one of them (or the base name) and reads the set from there as one stream of events. The set
// itself is rotated-set.ts's, as the CLI reads it (`FILE.N..`).
import { inputFiles, isFile, readStartup, setMember } from '../rotated-set.js';
import { EventFileError } from './event-file-error.js';

/**
 * The files to read for `path`, in order. A plain file is itself. `NAME.N` of a rotated set
 * brings the rest of its set from N on (as `retrace print NAME.N..` reads it); `NAME` is the
 * whole set, whether it is absent beside `NAME.0` or the newest file a killed run left unrenamed.
 */
export function resolveInputSet(path: string): string[] {
  if (path === '-') return [path];
  if (isFile(path)) {
    if (setMember(path)) return inputFiles({ path, follow: true });
    if (readStartup(path)?.split_file === undefined) return [path];
  }
  if (setMember(`${path}.0`)) return inputFiles({ path: `${path}.0`, follow: true });
  if (isFile(path)) return [path];
  throw new EventFileError(
    `cannot open events file ${path}: no such file (nor a rotated set ${path}.0, ${path}.1, ...)`,
    path,
  );
}
