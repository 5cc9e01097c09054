// The store's file operations that must survive a crash, in one place: the one atomic replace
// (the state files, trace.json, meta.json, the aggregator's checkpoint and the traces the
// operator set all go through it),
// fsyncs, cutting a file back, and writes that a full disk may take only a part of.
import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  open,
  openSync,
  renameSync,
  rmSync,
  write,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces a file so that readers see the old or the new content, never a part, and a crash
 * keeps one of them: a temporary file written and fsynced, renamed over the file, the directory
 * fsynced (the rename itself survives). On failure the temporary file is removed (a part written
 * takes room a full disk lacks) and the error thrown; the old file is untouched.
 */
export function writeAtomically(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      if (typeof data === 'string') writeSync(fd, data);
      else writeFully(fd, data, data.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(file));
}

/** Writes a file with the thread pool's help (no fsync); `done` gets the first error. */
export function writeInBackground(file: string, text: string, done: (err: Error | null) => void): void {
  open(file, 'w', (err, fd) => {
    if (err) return done(err);
    write(fd, text, (werr) => close(fd, (cerr) => done(werr ?? cerr)));
  });
}

/**
 * fsync of each path (files or directories), one after the other, by the thread pool; a path
 * gone meanwhile (an evicted segment, a deleted trace) needs none. `done` gets the first error
 * and the path it was about, after which the rest are not tried.
 */
export function fsyncPathsInBackground(
  paths: readonly string[],
  done: (err: NodeJS.ErrnoException | null, path?: string) => void,
): void {
  const next = (i: number): void => {
    const path = paths[i];
    if (path === undefined) return done(null);
    open(path, 'r', (oerr, fd) => {
      if (oerr) return oerr.code === 'ENOENT' ? next(i + 1) : done(oerr, path);
      fsync(fd, (serr) => close(fd, (cerr) => (serr || cerr ? done(serr ?? cerr, path) : next(i + 1))));
    });
  };
  next(0);
}

/** `<file>.damaged-<time>`: where an unreadable file is set aside (kept for reading, never overwritten). */
export function setAside(file: string): string {
  const to = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, to);
  return to;
}

/** fsync of a directory: its entries (a new or renamed file) survive a crash. */
export function fsyncDir(dir: string): void {
  withFd(dir, 'r', (fd) => fsyncSync(fd));
}

/** fsync of a file by its path; a file gone meanwhile (an evicted segment) needs none. */
export function fsyncPath(path: string): void {
  try {
    withFd(path, 'r', (fd) => fsyncSync(fd));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Cuts a file back to `bytes`, durably. */
export function truncateDurably(path: string, bytes: number): void {
  withFd(path, 'r+', (fd) => {
    ftruncateSync(fd, bytes);
    fsyncSync(fd);
  });
}

/** Writes `buf[0, len)` at `position` of a file, durably. */
export function writeAtDurably(path: string, buf: Uint8Array, len: number, position: number): void {
  withFd(path, 'r+', (fd) => {
    writeFully(fd, buf, len, position);
    fsyncSync(fd);
  });
}

/** Writes all of `buf[0, len)` at `position` (a full disk can take part of it, then refuse). */
export function writeFully(fd: number, buf: Uint8Array, len: number, position: number): void {
  for (let done = 0; done < len;) {
    const n = writeSync(fd, buf, done, len - done, position + done);
    if (n <= 0) throw shortWrite(done, len);
    done += n;
  }
}

/** A write that took only `n` of `len` bytes, as the error a refusing disk gives. */
export function shortWrite(n: number, len: number): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`only ${n} of ${len} bytes written (the disk is full?)`);
  e.code = 'ENOSPC';
  return e;
}

function withFd(path: string, flags: string, use: (fd: number) => void): void {
  const fd = openSync(path, flags);
  try {
    use(fd);
  } finally {
    closeSync(fd);
  }
}
