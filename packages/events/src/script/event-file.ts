// EventFile: one events input for scripts (a file, or a rotated set read as one), iterated as
// events or as per-packet series, however it was written (collect -o, or sort -o).
import type { Event, Startup } from '../gen/event.js';
import { EventParseError } from '../json.js';
import { InputError, openInput, readEventLines } from '../reader.js';
import { EventSorter } from '../sort.js';
import { EventFileError } from './event-file-error.js';
import { resolveInputSet } from './input-set.js';

export interface OpenOptions {
  /**
   * Follow a rotated set from the file named (default true): `NAME.0`, `NAME.1`, ... whose
   * startup events carry `split_file`. False reads exactly the files given.
   */
  rotation?: boolean;
}

export interface SeriesOptions {
  /**
   * Unsorted input only: events held before the oldest series is released, as `retrace sort
   * --max-buffer` (default 1000; 0 holds everything until the end, for exact series).
   */
  maxBuffer?: number;
}

/** The events of one file, line by line, with the file's name in every error. */
async function* linesOf(path: string): AsyncGenerator<Event | Event[]> {
  let input: NodeJS.ReadableStream;
  try {
    input = openInput(path);
  } catch (e) {
    if (e instanceof InputError) throw new EventFileError(e.message, path);
    throw e;
  }
  try {
    for await (const { value } of readEventLines(input)) yield value;
  } catch (e) {
    if (e instanceof EventParseError) throw new EventFileError(`${path}: ${e.message}`, path);
    throw e;
  }
}

export class EventFile {
  private constructor(
    /** The files read, in order (one, or every file of a rotated set). */
    readonly paths: readonly string[],
    /** True for `sort -o` output (one series per line), false for `collect -o` output. */
    readonly sorted: boolean,
    /** The first file's startup event (version, command line, clock offset), if it has one. */
    readonly startup: Startup | undefined,
  ) {}

  /**
   * Opens FILE (or the files given, read in that order as one input). Fails with an
   * EventFileError naming the file when it is missing, empty or not an events file.
   */
  static async open(input: string | readonly string[], opts: OpenOptions = {}): Promise<EventFile> {
    const given = typeof input === 'string' ? [input] : [...input];
    if (!given.length) throw new EventFileError('no events file given', '');
    for (const p of given)
      if (p === '-') throw new EventFileError('an EventFile reads files, not stdin: give a path', p);
    const paths = opts.rotation === false ? given : given.flatMap(resolveInputSet);
    const first = paths[0] as string;
    const lines = linesOf(first);
    const head = await lines.next();
    await lines.return(undefined);
    if (head.done) throw new EventFileError(`${first} holds no events (empty file)`, first);
    const value = head.value;
    const sorted = Array.isArray(value);
    const startup = (sorted ? value[0] : value)?.startup;
    return new EventFile(paths, sorted, startup);
  }

  /** Every event in file order; a sorted file's series are flattened, in order. */
  async *events(): AsyncGenerator<Event> {
    for (const path of this.paths)
      for await (const value of linesOf(path)) {
        if (Array.isArray(value)) yield* value;
        else yield value;
      }
  }

  /**
   * Per-packet series: a sorted file's as stored; an unsorted input sorted on the way (the
   * events gain their `tracking` section, as `retrace sort` writes them).
   */
  async *series(opts: SeriesOptions = {}): AsyncGenerator<Event[]> {
    if (this.sorted) {
      for (const path of this.paths)
        for await (const value of linesOf(path)) yield Array.isArray(value) ? value : [value];
      return;
    }
    const sorter = new EventSorter({ maxBuffer: opts.maxBuffer ?? 1000 });
    for await (const ev of this.events()) yield* sorter.push(ev);
    yield* sorter.flush();
  }

  /** `for await (const ev of file)` iterates events. */
  [Symbol.asyncIterator](): AsyncGenerator<Event> {
    return this.events();
  }
}

/** Shorthand for EventFile.open. */
export const openEventFile = (input: string | readonly string[], opts?: OpenOptions): Promise<EventFile> =>
  EventFile.open(input, opts);
