// --log-level: retis's levels, each message's level read from its prefix.
import { LOG_LEVELS, levelOf, parseLogLevel, shown } from '../../src/log-level.js';
import { UsageError } from '../../src/usage-error.js';

test("retis's five levels, info by default; anything else is refused with the list", () => {
  expect(LOG_LEVELS).toEqual(['error', 'warn', 'info', 'debug', 'trace']);
  expect(parseLogLevel(undefined)).toBe('info');
  expect(parseLogLevel('WARN')).toBe('warn');
  expect(() => parseLogLevel('verbose')).toThrow(UsageError);
  expect(() => parseLogLevel('verbose')).toThrow(
    "--log-level 'verbose': not a level; give one of error, warn, info, debug, trace",
  );
});

test('a message is as important as its prefix says', () => {
  expect(levelOf('retrace: cannot open x\n')).toBe('error');
  expect(levelOf("error: unknown option '--x'\n")).toBe('error');
  expect(levelOf('warning: skipped a.yaml\n')).toBe('warn');
  expect(levelOf('note: tracefs is not mounted\n')).toBe('info');
  expect(levelOf('3 probe(s) attached in 5 ms\n')).toBe('info');
  expect(levelOf('debug: command line\n')).toBe('debug');
  expect(shown('warn', 'error')).toBe(false);
  expect(shown('error', 'error')).toBe(true);
  expect(shown('info', 'warn')).toBe(false);
  expect(shown('debug', 'info')).toBe(false);
  expect(shown('debug', 'trace')).toBe(true);
});
