// A file (or stdout) written synchronously, whose contents can be cut back to the last whole
// record after a failed write: what a reader then finds is complete, nothing half-written.
import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { OutputOpenError } from './write-error.js';

export class OutputFile {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  /** Where this writer started in the file (its size before, when appending). */
  private readonly base: number;
  private readonly regular: boolean;

  /** `-` is stdout. `flag` names the option in error messages. */
  constructor(
    readonly path: string,
    opts: { append?: boolean; flag?: string } = {},
  ) {
    if (path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      try {
        this.fd = openSync(path, opts.append ? 'a' : 'w');
      } catch (e) {
        throw new OutputOpenError(path, e as NodeJS.ErrnoException, opts.flag);
      }
      this.ownsFd = true;
    }
    let st: { isFile: () => boolean; size: number } | undefined;
    try {
      st = fstatSync(this.fd);
    } catch {
      st = undefined; // a closed stdout: the first write says so
    }
    this.regular = !!st?.isFile();
    this.base = st && this.ownsFd && opts.append ? st.size : 0;
  }

  /**
   * Writes all of `buf`; returns undefined, or the error that stopped it and how many of its
   * bytes got written before.
   */
  write(buf: Buffer): { error: NodeJS.ErrnoException; done: number } | undefined {
    let done = 0;
    while (done < buf.length) {
      try {
        done += writeSync(this.fd, buf, done);
      } catch (e) {
        // stdout as a non-blocking pipe: wait for the reader rather than lose output
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        return { error: e as NodeJS.ErrnoException, done };
      }
    }
    return undefined;
  }

  /** Cuts the file back to `bytes` written by this writer (a regular file we opened only). */
  truncate(bytes: number): void {
    if (!this.ownsFd || !this.regular) return;
    try {
      ftruncateSync(this.fd, this.base + bytes);
    } catch {
      // the partial record stays; the error already reported says where the file is cut
    }
  }

  /** Closes; an error (a delayed write error of some file systems) is returned, not thrown. */
  close(): NodeJS.ErrnoException | undefined {
    if (!this.ownsFd) return undefined;
    try {
      closeSync(this.fd);
      return undefined;
    } catch (e) {
      return e as NodeJS.ErrnoException;
    }
  }
}
