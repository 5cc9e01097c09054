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

/** Whole lines as bytes: line i is buf[i ? ends[i-1] : 0 .. ends[i]), its '\n' included. */
export interface LineBytes {
  buf: Buffer;
  ends: Uint32Array;
}

export class LineWriter {
  private readonly file: OutputFile;
  /** Lines waiting, as the bytes that go out; where each ends, and how many events it holds. */
  private chunk: Buffer;
  private pos = 0;
  private ends: Uint32Array = new Uint32Array(1024);
  private weights: Uint32Array = new Uint32Array(1024);
  private count = 0;
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
    this.chunk = Buffer.allocUnsafeSlow(LineWriter.FLUSH_AT);
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
    const n = Buffer.byteLength(text) + 1;
    if (this.pos + n > this.chunk.length) {
      this.flush();
      if (this.failure) return this.line(text, events);
      if (n > this.chunk.length) this.chunk = Buffer.allocUnsafeSlow(n);
    }
    this.pos += this.chunk.write(text, this.pos, 'utf8');
    this.chunk[this.pos++] = 10;
    this.push(events);
    if (this.pos >= LineWriter.FLUSH_AT) this.flush();
  }

  /**
   * Lines [from, to) of `src`, one event each, as they are: a large run goes out without a copy
   * when nothing is waiting before it.
   */
  lines(src: LineBytes, from: number, to: number): void {
    const { buf, ends } = src;
    let i = from;
    while (i < to) {
      if (this.failure) {
        this.lost.items += to - i;
        this.lost.events += to - i;
        return;
      }
      const start = i ? (ends[i - 1] as number) : 0;
      if (this.count === 0 && (ends[to - 1] as number) - start >= LineWriter.FLUSH_AT) {
        this.writeOut(buf.subarray(start, ends[to - 1]), ends, i, to, start);
        return;
      }
      // The lines that fit after what is waiting, copied in at once.
      let j = i;
      while (j < to && (ends[j] as number) - start <= this.chunk.length - this.pos) j++;
      if (j === i) {
        if (this.count) this.flush();
        else this.chunk = Buffer.allocUnsafeSlow((ends[i] as number) - start);
        continue;
      }
      const end = ends[j - 1] as number;
      buf.copy(this.chunk, this.pos, start, end);
      for (let k = i; k < j; k++) {
        this.pos += (ends[k] as number) - (k ? (ends[k - 1] as number) : 0);
        this.push(1);
      }
      i = j;
      if (this.pos >= LineWriter.FLUSH_AT) this.flush();
    }
  }

  flush(): void {
    if (!this.count || this.failure) return;
    const count = this.count;
    this.count = 0;
    const bytes = this.pos;
    this.pos = 0;
    this.writeOut(this.chunk.subarray(0, bytes), this.ends, 0, count, 0, this.weights);
  }

  private push(events: number): void {
    if (this.count === this.ends.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ends = grow(this.ends);
      this.weights = grow(this.weights);
    }
    this.ends[this.count] = this.pos;
    this.weights[this.count++] = events;
  }

  /**
   * Writes `bytes`: lines [from, to) whose ends (less `base`) are in `ends`, each one event or
   * `weights[i]`. On failure, keeps the whole lines that got out; the rest (and a partial line,
   * cut off) is lost.
   */
  private writeOut(
    bytes: Buffer,
    ends: Uint32Array,
    from: number,
    to: number,
    base: number,
    weights?: Uint32Array,
  ): void {
    const weight = (i: number): number => (weights ? (weights[i] as number) : 1);
    const failed = this.file.write(bytes);
    if (!failed) {
      this.written.items += to - from;
      for (let i = from; i < to; i++) this.written.events += weight(i);
      this.written.bytes += bytes.length;
      return;
    }
    let kept = 0;
    let i = from;
    for (; i < to && (ends[i] as number) - base <= failed.done; i++) {
      kept = (ends[i] as number) - base;
      this.written.items++;
      this.written.events += weight(i);
    }
    this.written.bytes += kept;
    for (; i < to; i++) {
      this.lost.items++;
      this.lost.events += weight(i);
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
