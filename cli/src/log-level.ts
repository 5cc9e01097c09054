// --log-level error|warn|info|debug|trace (retis's global flag, default info). retrace's
// messages are lines on stderr whose prefix says their level (`retrace:` and `error:` errors,
// `warning:` warnings, `debug:` debug, anything else information such as `note:` and the
// collect summary), so the level is applied where they leave: one filter on stderr, rather
// than a logger threaded through every verb.
import { UsageError } from './usage-error.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export function parseLogLevel(v: string | undefined): LogLevel {
  if (v === undefined) return 'info';
  const level = LOG_LEVELS.find((l) => l === v.toLowerCase());
  if (!level) throw new UsageError(`--log-level '${v}': not a level; give one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/** The level of one message, from its first line. */
export function levelOf(text: string): LogLevel {
  const start = text.replace(/^[\r\n]+/, '');
  if (/^(retrace|error)(:|\s)/i.test(start)) return 'error';
  if (/^warn(ing)?:/i.test(start)) return 'warn';
  if (/^debug:/i.test(start)) return 'debug';
  if (/^trace:/i.test(start)) return 'trace';
  return 'info';
}

export function shown(message: LogLevel, level: LogLevel): boolean {
  return RANK[message] <= RANK[level];
}

let current: LogLevel = 'info';

export const logLevel = (): LogLevel => current;

/** A `debug:` line on stderr when --log-level debug (or trace) asked for it. */
export function debug(line: string): void {
  if (shown('debug', current)) process.stderr.write(`debug: ${line}\n`);
}

/**
 * Applies the level to everything this process writes on stderr from now on. At `trace`,
 * libbpf's own debug output is turned on too (the native addon reads it when it loads, after
 * this: the tracing engine loads only when a verb needs it).
 */
export function applyLogLevel(level: LogLevel): void {
  current = level;
  if (level === 'trace') process.env.RETRACE_LIBBPF_DEBUG = '1';
  if (level === 'info' || level === 'debug' || level === 'trace') return;
  const write = process.stderr.write.bind(process.stderr) as (...a: unknown[]) => boolean;
  const filtered = (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    if (shown(levelOf(text), level)) return write(chunk, ...rest);
    // Dropped, but a write callback still learns it is done.
    const cb = rest.find((r): r is () => void => typeof r === 'function');
    if (cb) process.nextTick(cb);
    return true;
  };
  process.stderr.write = filtered as typeof process.stderr.write;
}
