// Events files are newline-delimited JSON: one event per line, or one series (array) per line
// for sorted files. Read them as a stream so that big captures do not have to fit in memory.
import { createReadStream, openSync, fstatSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Event } from './gen/event.js';
import { parseLine, stringifyEvent } from './json.js';
import { inputFiles, type InputSpec } from './rotated-set.js';

export class InputError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export interface EventLine {
  /** 1-based line number in the input. */
  line: number;
  value: Event | Event[];
}

/**
 * Yields each non-blank line's event (or series). A malformed line throws EventParseError naming
 * its line number; the lines before it have been yielded already.
 */
export async function* readEventLines(input: NodeJS.ReadableStream): AsyncGenerator<EventLine> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      if (text.trim() === '') continue;
      yield { line, value: parseLine(text, line) };
    }
  } finally {
    rl.close();
  }
}

/** Opens an events file now, so that a bad path fails with its name. */
function openChecked(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file (give the path of an events file, or - for stdin)'
        : code === 'EACCES'
          ? 'permission denied'
          : (e as Error).message;
    throw new InputError(`cannot open events file ${path}: ${why}`, path);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new InputError(`cannot read events file ${path}: it is a directory`, path);
  }
  return fd;
}

/** The files one after the other; a file not ending in a newline does not join its last line to the next. */
async function* concatenated(first: number, rest: readonly string[]): AsyncGenerator<Buffer> {
  let fd: number | undefined = first;
  for (let i = 0; ; i++) {
    let last = 10;
    for await (const chunk of createReadStream('', { fd })) {
      const buf = chunk as Buffer;
      if (buf.length) last = buf[buf.length - 1] ?? 10;
      yield buf;
    }
    const next = rest[i];
    if (next === undefined) return;
    if (last !== 10) yield Buffer.from('\n');
    fd = openChecked(next);
  }
}

/**
 * `-` is stdin; a path is that file; an InputSpec with `follow` (`FILE..`) the files of its rotated
 * set, read as one stream. The first file is opened now, so that a bad path fails with its name.
 */
export function openInput(input: string | InputSpec): NodeJS.ReadableStream {
  const spec = typeof input === 'string' ? { path: input, follow: false } : input;
  if (spec.path === '-') return process.stdin;
  const fd = openChecked(spec.path);
  const files = spec.follow ? inputFiles(spec) : [spec.path];
  if (files.length === 1) return createReadStream(spec.path, { fd });
  return Readable.from(concatenated(fd, files.slice(1)), { objectMode: false });
}

/** Writes one JSON line (an event or a series), waiting for the stream to drain when it is full. */
export async function writeEventLine(out: NodeJS.WritableStream, ev: Event | Event[]): Promise<void> {
  if (out.write(`${stringifyEvent(ev)}\n`)) return;
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      out.off('error', onError);
      resolve();
    };
    const onError = (e: Error): void => {
      out.off('drain', onDrain);
      reject(e);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}
