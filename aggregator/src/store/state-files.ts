// The store's small documents, beside the segments:
//
//   <dir>/.state/<key>.json    state documents of the aggregator (saveState / state), its
//                              checkpoint among them
//   <dir>/<trace>/trace.json   the trace's name (directory names are sanitised), evicted count
//   <dir>/<trace>/meta.json    the trace's last saved TraceSummary
//
// All are JSON in one encoding (bigint-json.ts) and replaced through one atomic write
// (durable-fs.ts), or written in the background for the periodic saves of a running aggregator.
// An unreadable one is set aside as <file>.damaged-<time> and reported, never overwritten.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeMessage, encodeMessage, messageFields, type TraceSummary } from '@retrace/events';
import { fromJson, toJson } from './bigint-json.js';
import { setAside, writeAtomically, writeInBackground } from './durable-fs.js';
import { StateFileError, StoreError, type StoreWarning } from './errors.js';
import { traceDirName } from './trace-dir-name.js';

const STATE_DIR = '.state';
const TRACE_FILE = 'trace.json';
const SUMMARY_FILE = 'meta.json';

/** Where the state document `key` of a store directory is. */
export const stateFile = (storeDir: string, key: string): string =>
  join(storeDir, STATE_DIR, `${traceDirName(key)}.json`);

/** Whether a directory entry of the store is where its state documents are (not a trace). */
export const isStateDir = (name: string): boolean => name === STATE_DIR;

/**
 * The state document `key` of a store directory, open or not (the aggregator reads its
 * checkpoint before it opens the store): undefined when there is none; StateFileError when it
 * cannot be read.
 */
export function readStateFile(storeDir: string, key: string): unknown {
  const file = stateFile(storeDir, key);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(file, (e as Error).message);
  }
  try {
    return fromJson(text);
  } catch (e) {
    throw new StateFileError(file, (e as Error).message);
  }
}

/** What a trace's trace.json says, and what was wrong with it. */
export interface TraceFileInfo {
  name: string | undefined;
  /** 0 when the file was not read whole. */
  evicted: number;
  /** Why the file could not be used ('' when it could). */
  problem: string;
  /** There is no trace.json at all. */
  missing: boolean;
}

export class StateFiles {
  /** A saveInBackground round is being written. */
  private round = false;
  private closed = false;
  /** Files whose last background save failed, and why (each failure said once). */
  private readonly unsaved = new Map<string, string>();
  /** Per file, synchronous saves so far (a background save started before one is not renamed). */
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly dir: string,
    /** Reports a problem (kept among the store's warnings). */
    private readonly warn: (w: StoreWarning) => void,
    /** Says a problem only (a failed background save, said once until it works again). */
    private readonly say: ((message: string, w: StoreWarning) => void) | undefined,
  ) {}

  /** Saves a small JSON document (bigints kept), replaced atomically. */
  saveState(key: string, value: unknown): void {
    mkdirSync(join(this.dir, STATE_DIR), { recursive: true });
    this.replace(stateFile(this.dir, key), toJson(value));
  }

  /** A state document, or undefined when there is none or it was unreadable (then set aside and reported). */
  state(key: string): unknown {
    try {
      return readStateFile(this.dir, key);
    } catch (e) {
      if (!(e instanceof StateFileError)) throw e;
      const to = setAside(e.file);
      this.warn({ trace: '', file: e.file, offset: 0, message: `unreadable, set aside as ${to}: ${e.reason}` });
      return undefined;
    }
  }

  /** Saves a trace's summary (meta.json, replaced atomically). */
  saveSummary(traceDir: string, s: TraceSummary): void {
    this.replace(join(traceDir, SUMMARY_FILE), summaryText(s));
  }

  hasSummary(traceDir: string): boolean {
    return existsSync(join(traceDir, SUMMARY_FILE));
  }

  /** A trace's saved summary; an unreadable one is set aside and reported (counts start again). */
  readSummary(traceDir: string, trace: string): TraceSummary | undefined {
    const file = join(traceDir, SUMMARY_FILE);
    if (!existsSync(file)) return undefined;
    try {
      return summaryFromJson(readFileSync(file, 'utf8'));
    } catch (e) {
      const to = setAside(file);
      this.warn({
        trace,
        file,
        offset: 0,
        message: `summary unreadable (${(e as Error).message}), set aside as ${basename(to)}; counts start again from 0`,
      });
      return undefined;
    }
  }

  /** What a trace directory's trace.json says. */
  readTraceFile(traceDir: string): TraceFileInfo {
    let v: unknown;
    try {
      v = fromJson(readFileSync(join(traceDir, TRACE_FILE), 'utf8'));
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      return { name: undefined, evicted: 0, problem: (e as Error).message, missing };
    }
    const info = (typeof v === 'object' && v !== null ? v : {}) as { name?: unknown; evicted?: unknown };
    const name = typeof info.name === 'string' && info.name !== '' ? info.name : undefined;
    if (name === undefined) return { name, evicted: 0, problem: 'no trace name in it', missing: false };
    return { name, evicted: typeof info.evicted === 'number' ? info.evicted : 0, problem: '', missing: false };
  }

  /** trace.json's path in a trace directory (to set it aside, to name it in warnings). */
  traceFile(traceDir: string): string {
    return join(traceDir, TRACE_FILE);
  }

  /**
   * trace.json, replaced atomically. When the disk refuses, the old one stays (its evicted count
   * behind): reported, not thrown, so that an eviction on a full disk does not stop the append.
   */
  saveTraceFile(traceDir: string, trace: string, evicted: number): void {
    const file = join(traceDir, TRACE_FILE);
    try {
      writeAtomically(file, `${toJson({ name: trace, evicted })}\n`);
    } catch (e) {
      this.warn({
        trace,
        file,
        offset: 0,
        message: `not saved (${(e as Error).message}): the evicted count in it is behind`,
      });
    }
  }

  /** The previous saveInBackground round is still being written. */
  get saving(): boolean {
    return this.round;
  }

  /**
   * Saves summaries (by trace directory) and state documents in the background: written by the
   * thread pool without fsync, each renamed into place on the caller's thread unless a
   * synchronous save of it came since or the store was closed (newer content is never replaced
   * by older). Returns false, doing nothing, while the previous round is still being written.
   */
  saveInBackground(summaries: [string, TraceSummary][], states: [string, unknown][]): boolean {
    if (this.round) return false;
    const files: [string, string][] = summaries.map(([dir, s]) => [join(dir, SUMMARY_FILE), summaryText(s)]);
    if (states.length) mkdirSync(join(this.dir, STATE_DIR), { recursive: true });
    for (const [key, value] of states) files.push([stateFile(this.dir, key), toJson(value)]);
    if (!files.length) return true;
    this.round = true;
    let left = files.length;
    for (const [file, text] of files) {
      const generation = this.generations.get(file) ?? 0;
      const tmp = `${file}.bg.tmp`;
      writeInBackground(tmp, text, (err) => {
        if (err) this.notSaved(file, tmp, err);
        else {
          this.unsaved.delete(file); // saved again: a later failure is said again
          if (this.closed || (this.generations.get(file) ?? 0) !== generation) rmSync(tmp, { force: true });
          else renameSync(tmp, file);
        }
        if (--left === 0) this.round = false;
      });
    }
    return true;
  }

  /** Background saves still being written are not renamed into place. */
  close(): void {
    this.closed = true;
  }

  private notSaved(file: string, tmp: string, err: Error): void {
    rmSync(tmp, { force: true }); // a part written takes room a full disk lacks
    // Said once until a save of the file works again (every 2 s the same line otherwise).
    if (this.unsaved.get(file) !== err.message)
      this.say?.(`${tmp}: not saved: ${err.message} (said once until a save works again)`, {
        trace: '',
        file: tmp,
        offset: 0,
        message: err.message,
      });
    this.unsaved.set(file, err.message);
    if (this.unsaved.size > 1024) this.unsaved.delete(this.unsaved.keys().next().value as string);
  }

  /** Replaces a file at once, newer than any background save of it in flight. */
  private replace(file: string, text: string): void {
    this.generations.set(file, (this.generations.get(file) ?? 0) + 1);
    writeAtomically(file, text);
  }
}

function summaryText(s: TraceSummary): string {
  return `${toJson(s, 1)}\n`;
}

/**
 * meta.json back into a TraceSummary, through the TraceSummary codec: it checks each field's
 * type, and turns 64-bit fields a store before bigint-json.ts wrote as decimal strings into
 * bigints (a store written by an older aggregator opens with its counts).
 */
function summaryFromJson(text: string): TraceSummary {
  const v = fromJson(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new StoreError('meta.json must hold an object');
  // The generated encoder coerces what it is given (a count of "many" would become 0): check
  // each scalar's type first, so a damaged summary is set aside rather than read as zeros.
  for (const f of messageFields('TraceSummary')) {
    const x = (v as Record<string, unknown>)[f.json];
    if (x === undefined || f.kind === 'message') continue;
    const ok =
      f.kind === 'u64' || f.kind === 'i64'
        ? typeof x === 'bigint' || (typeof x === 'string' && /^-?\d+$/.test(x)) || Number.isSafeInteger(x)
        : f.kind === 'u32' || f.kind === 'i32'
          ? Number.isInteger(x)
          : f.kind === 'string'
            ? typeof x === 'string'
            : f.kind === 'bool'
              ? typeof x === 'boolean'
              : true;
    if (!ok) throw new StoreError(`meta.json: ${f.json} is ${JSON.stringify(String(x))}, not a ${f.kind}`);
  }
  return decodeMessage<TraceSummary>('TraceSummary', encodeMessage('TraceSummary', v));
}
