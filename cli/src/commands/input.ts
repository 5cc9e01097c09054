// The events input of print, sort, stats and pcap, as retis reads it: `FILE` is that file alone,
// `FILE..` the file and the rest of its rotated set (FILE.N, FILE.N+1, ...), `-` stdin. Without
// one, the first that exists of retis.data, retis.data.0.. (what `collect -o` writes, as retis),
// then retrace.data, retrace.data.0.. (what older retrace runs wrote).
import { existsSync } from 'node:fs';
import { InputError, inputFiles, isFile, parseInputSpec, type InputSpec } from '@retrace/events';
import type { InputFile } from '../output/same-file.js';

/** The file `collect -o` writes when given no name (retis's). */
export const DEFAULT_OUT = 'retis.data';
/** Where an earlier retrace wrote by default: still read when there is no retis.data. */
export const OLD_DEFAULT_OUT = 'retrace.data';

export interface EventsInput {
  /** As the user named it (`x.data.0..`), for messages. */
  name: string;
  spec: InputSpec;
  /** Every file read, in order: no output may be one of them. */
  files: InputFile[];
}

function resolved(name: string, spec: InputSpec): EventsInput {
  const files = inputFiles(spec).map((path, i) => ({
    what: i === 0 ? 'the events file' : `the events file (file ${i + 1} of the rotated set ${name})`,
    path,
  }));
  return { name, spec, files };
}

/** The input a command reads: `arg` as typed, or the default file. Throws InputError when none. */
export function resolveInput(arg: string | undefined): EventsInput {
  if (arg === undefined) {
    for (const base of [DEFAULT_OUT, OLD_DEFAULT_OUT]) {
      if (isFile(base)) return resolved(base, { path: base, follow: true });
      if (isFile(`${base}.0`)) return resolved(`${base}.0..`, { path: `${base}.0`, follow: true });
    }
    throw new InputError(
      `no events file given, and none of ${DEFAULT_OUT}, ${DEFAULT_OUT}.0, ${OLD_DEFAULT_OUT}, ${OLD_DEFAULT_OUT}.0 is here: ` +
        'name one (FILE, FILE.0.. for a rotated set, - for stdin)',
      DEFAULT_OUT,
    );
  }
  const spec = parseInputSpec(arg);
  // FILE is gone once a rotated run ends (it became FILE.0, FILE.1, ...): point at the set.
  if (!spec.follow && spec.path !== '-' && !existsSync(spec.path) && isFile(`${spec.path}.0`))
    throw new InputError(
      `cannot open events file ${spec.path}: no such file, but ${spec.path}.0 is there (a rotated set?): ` +
        `read the whole set with ${spec.path}.0.. or one file with ${spec.path}.0`,
      spec.path,
    );
  return resolved(arg, spec);
}
