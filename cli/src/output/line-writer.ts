// Buffered, synchronous line output to a file or stdout: bounded memory, and everything is on
// disk when close() returns (also on the signal path, where async streams may not flush). A
// failed write (a full disk) cuts the file back to its last whole line, so it stays readable,
// and counts what was written and what was lost.
import { OutputFile } from './output-file.js';
import { OutputWriteError, type Unit } from './write-error.js';

export interface LineWriterOptions {
  /** What a line is, for messages: an event (default), a series of events, a journey. */
  unit?: Unit;
  /** Append to the file instead of replacing it. */
  append?: boolean;
  /** The output option, for messages (default -o). */
  flag?: string;
  /**
   * Called once at the first failed write; lines after it are counted as lost and close() throws
   * the final error. Without it, line() throws at the failure (the caller stops there).
   */
  onError?: (e: OutputWriteError) => void;
}

export class LineWriter {
  private readonly file: OutputFile;
  private lines: string[] = [];
  private weights: number[] = [];
  private size = 0;
  private readonly written = { items: 0, events: 0, bytes: 0 };
  private readonly lost = { items: 0, events: 0 };
  private failure: NodeJS.ErrnoException | undefined;
  private static readonly FLUSH_AT = 1 << 16;

  /** `-` is stdout. */
  constructor(
    readonly path: string,
    private readonly opts: LineWriterOptions = {},
  ) {
    this.file = new OutputFile(path, { ...(opts.append ? { append: true } : {}), flag: opts.flag ?? '-o' });
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** One line; `events`: how many events it holds (a series: its length). */
  line(text: string, events = 1): void {
    if (this.failure) {
      this.lost.items++;
      this.lost.events += events;
      return;
    }
    this.lines.push(text);
    this.weights.push(events);
    this.size += text.length + 1;
    if (this.size >= LineWriter.FLUSH_AT) this.flush();
  }

  flush(): void {
    if (!this.lines.length || this.failure) return;
    const lines = this.lines;
    const weights = this.weights;
    this.lines = [];
    this.weights = [];
    this.size = 0;
    const buf = Buffer.from(`${lines.join('\n')}\n`);
    const failed = this.file.write(buf);
    if (!failed) {
      this.written.items += lines.length;
      this.written.events += weights.reduce((a, b) => a + b, 0);
      this.written.bytes += buf.length;
      return;
    }
    // Keep the whole lines that got out; the rest (and a partial line, cut off) is lost.
    let kept = 0;
    let i = 0;
    for (; i < lines.length; i++) {
      const len = Buffer.byteLength(lines[i] ?? '') + 1;
      if (kept + len > failed.done) break;
      kept += len;
      this.written.items++;
      this.written.events += weights[i] ?? 1;
    }
    this.written.bytes += kept;
    for (; i < lines.length; i++) {
      this.lost.items++;
      this.lost.events += weights[i] ?? 1;
    }
    this.file.truncate(this.written.bytes);
    this.failure = failed.error;
    if (!this.opts.onError) throw this.error();
    this.opts.onError(this.error());
  }

  private error(): OutputWriteError {
    return new OutputWriteError(
      this.path,
      this.failure ?? new Error('write failed'),
      { ...this.written },
      { ...this.lost },
      this.opts.unit ?? 'event',
      this.opts.flag ?? '-o',
    );
  }

  /** Writes what is buffered and closes; throws the OutputWriteError if any write failed. */
  close(): void {
    try {
      this.flush();
    } finally {
      const closeError = this.file.close();
      if (closeError && !this.failure) this.failure = closeError;
    }
    if (this.failure) throw this.error();
  }
}
