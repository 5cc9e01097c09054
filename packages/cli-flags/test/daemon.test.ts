// What a daemon's user sees of a bad command line or --help: said on the right stream, and the
// exit status (2 for a usage error, 0 for help).
import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { daemonFlags, integer, usageFailure } from '../src/index.js';

class Exited extends Error {
  constructor(readonly code: number | string | null | undefined) {
    super(`exit ${code}`);
  }
}

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Exited(code);
  });
  jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => {
  jest.restoreAllMocks();
});

const program = { name: 'retrace-test', summary: 'A test daemon.', flags: { 'orphan-ms': integer('MS', 'wait') } };

const exitOf = (f: () => unknown): number | string | null | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof Exited) return e.code;
    throw e;
  }
  return 'returned';
};

test('a bad flag: the program, what is wrong and where the flags are, on stderr; exit 2', () => {
  expect(exitOf(() => daemonFlags(program, ['--orphan-ms', 'soon']))).toBe(2);
  expect(err).toBe(
    "retrace-test: --orphan-ms must be a whole number, got 'soon'\n(retrace-test --help lists every flag)\n",
  );
  expect(out).toBe('');
});

test('--help: the help on stdout; exit 0', () => {
  expect(exitOf(() => daemonFlags(program, ['--help']))).toBe(0);
  expect(out).toMatch(/^Usage: retrace-test \[options\]/);
  expect(out).toContain('--orphan-ms <MS>');
  expect(err).toBe('');
});

test('good flags: the values, and a fail that says a later usage error the same way', () => {
  const d = daemonFlags(program, ['--orphan-ms', '5']);
  expect(d.values['orphan-ms']).toBe(5);
  expect(exitOf(() => d.fail('--orphan-ms goes with --server'))).toBe(2);
  expect(err).toBe('retrace-test: --orphan-ms goes with --server\n(retrace-test --help lists every flag)\n');
  expect(exitOf(() => usageFailure('retrace-x')('no'))).toBe(2);
});
