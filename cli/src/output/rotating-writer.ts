// `collect -o FILE --out-rotate SIZE`, as retis rotates: events go to FILE; when the next line
// would take it past SIZE bytes, FILE is renamed FILE.N (N from 0) and a new FILE starts with its
// own startup event (`split_file.id` N+1). At the end FILE becomes the last FILE.N, so a finished
// run leaves FILE.0, FILE.1, ... and `retrace print FILE.0..` reads them as one.
import { renameSync } from 'node:fs';
import { existingSetFiles } from '@retrace/events';
import { UsageError } from '../usage-error.js';
import { LineWriter, type LineBytes } from './line-writer.js';
import { causeInWords, type OutputWriteError } from './write-error.js';

/** `--out-rotate` as retis takes it: a number of MB or GB (10^6, 10^9 bytes), e.g. 100MB, 2GB. */
export function parseRotateSize(text: string): number {
  const m = /^(\d+)(M|G)B$/.exec(text);
  if (!m) throw new UsageError(`--out-rotate takes a size in MB or GB, e.g. 100MB or 2GB, got '${text}'`);
  const bytes = Number(m[1]) * (m[2] === 'G' ? 1e9 : 1e6);
  if (bytes === 0) throw new UsageError('--out-rotate must be more than 0 bytes');
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--out-rotate ${text} is too large`);
  return bytes;
}

/** Files of an earlier rotated set are where this run would write: refused, never replaced. */
export class RotatedSetExistsError extends UsageError {
  constructor(
    readonly base: string,
    readonly existing: readonly string[],
  ) {
    const shown = existing.slice(0, 3).join(', ') + (existing.length > 3 ? `, ... (${existing.length} files)` : '');
    super(
      `-o ${base} --out-rotate writes ${base}.0, ${base}.1, ...: ${shown} already there (an earlier rotated run?), ` +
        'and a reader of the new set would take them for its continuation; move or remove them, or choose another -o',
    );
    this.name = 'RotatedSetExistsError';
  }
}

/** Renaming a full file to its place in the set failed. */
export class RotateError extends Error {
  constructor(
    readonly from: string,
    readonly to: string,
    readonly errno: NodeJS.ErrnoException,
  ) {
    super(`cannot rename ${from} to ${to} (output rotation): ${causeInWords(errno)}; the events so far are in ${from}`);
    this.name = 'RotateError';
  }
}

/** Throws RotatedSetExistsError when a file `base.N` exists. */
export function refuseExistingSet(base: string): void {
  const existing = existingSetFiles(base);
  if (existing.length) throw new RotatedSetExistsError(base, existing);
}

export interface RotatingOptions {
  /** Bytes a file may hold (its startup line included) before the next line goes to a new file. */
  limit: number;
  /** The startup event line of file `id`. */
  startup: (id: number) => string;
  /** Called once at the first failure (a write or a rename); close() throws it. */
  onError: (e: Error) => void;
}

export class RotatingLineWriter {
  private writer: LineWriter;
  private id = 0;
  private bytes = 0;
  /** Lines in the current file after its startup event. */
  private inFile = 0;
  private failure: Error | undefined;
  /** The current file failed a write: it counts what is lost, and its close() says so. */
  private writerFailed = false;
  private writerClosed = false;

  /** Refuses (RotatedSetExistsError) when any `base.N` exists. */
  constructor(
    readonly base: string,
    private readonly opts: RotatingOptions,
  ) {
    refuseExistingSet(base);
    this.writer = this.open();
  }

  /** How many files the set has so far (the one being written included). */
  get files(): number {
    return this.id + 1;
  }

  private open(): LineWriter {
    const w = new LineWriter(this.base, {
      onError: (e: OutputWriteError) => {
        this.writerFailed = true;
        this.fail(e);
      },
    });
    const head = this.opts.startup(this.id);
    w.line(head);
    this.bytes = Buffer.byteLength(head) + 1;
    this.inFile = 0;
    this.writerClosed = false;
    return w;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.opts.onError(e);
  }

  /** Closes the current file and gives it its index; false when that failed. */
  private seal(): boolean {
    try {
      this.writerClosed = true;
      this.writer.close();
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
    const to = `${this.base}.${this.id}`;
    try {
      renameSync(this.base, to);
    } catch (e) {
      this.fail(new RotateError(this.base, to, e as NodeJS.ErrnoException));
      return false;
    }
    return true;
  }

  line(text: string, events = 1): void {
    if (this.writerFailed) return this.writer.line(text, events);
    if (this.failure) return;
    const len = Buffer.byteLength(text) + 1;
    // A file holding only its startup event takes the line, however long: no file without events.
    if (this.inFile > 0 && this.bytes + len > this.opts.limit && !this.rotate()) return;
    this.writer.line(text, events);
    this.bytes += len;
    this.inFile++;
  }

  /** Lines [from, to) of `src` (one event each), the files rotated between lines as line() does. */
  lines(src: LineBytes, from: number, to: number): void {
    const ends = src.ends;
    let i = from;
    while (i < to) {
      if (this.writerFailed) return this.writer.lines(src, i, to);
      if (this.failure) return;
      // The lines that fit in this file (the first of a file fits, however long).
      let j = i;
      let bytes = this.bytes;
      for (; j < to; j++) {
        const len = (ends[j] as number) - (j ? (ends[j - 1] as number) : 0);
        if (this.inFile + (j - i) > 0 && bytes + len > this.opts.limit) break;
        bytes += len;
      }
      if (j > i) {
        this.writer.lines(src, i, j);
        this.bytes = bytes;
        this.inFile += j - i;
        i = j;
      } else if (!this.rotate()) return;
    }
  }

  /** Seals the current file and opens the next; false when that failed. */
  private rotate(): boolean {
    if (!this.seal()) return false;
    this.id++;
    try {
      this.writer = this.open();
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
    return true;
  }

  /** Closes the last file (renamed to its index); throws the first failure, if any. */
  close(): void {
    if (this.writerFailed && !this.writerClosed) {
      this.writerClosed = true;
      this.writer.close(); // throws the final count of what was written and lost
    }
    if (!this.failure) this.seal();
    if (this.failure) throw this.failure;
  }
}
