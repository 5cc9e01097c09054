// Events files are newline-delimited JSON: one event per line, or one series (array) per line
// for sorted files. Read them as a stream so that big captures do not have to fit in memory.
import { createReadStream, openSync, fstatSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Event } from './gen/event.js';
import { parseLine, stringifyEvent } from './json.js';

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

/** `-` is stdin; anything else a file, checked now so that a bad path fails with its name. */
export function openInput(pathOrDash: string): NodeJS.ReadableStream {
  if (pathOrDash === '-') return process.stdin;
  let fd: number;
  try {
    fd = openSync(pathOrDash, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file (give the path of an events file, or - for stdin)'
        : code === 'EACCES'
          ? 'permission denied'
          : (e as Error).message;
    throw new InputError(`cannot open events file ${pathOrDash}: ${why}`, pathOrDash);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new InputError(`cannot read events file ${pathOrDash}: it is a directory`, pathOrDash);
  }
  return createReadStream(pathOrDash, { fd });
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
