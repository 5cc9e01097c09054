// `retrace python` behaves as `retis python`: a script (by path or by name from the script
// folders) or an interactive console runs with `reader` (retis's EventFile over -i FILE) and
// sys.argv set; without the library or Python, the message says what to install.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { RETIS_PYTHON, requireRetisLibrary, retracePython } from './retis-python-lib.js';

const tmp = tempDir();
const fixtures = join(process.cwd(), 'packages/events/test/fixtures');
const events = join(tmp.dir, 'events.json');
const sorted = join(tmp.dir, 'sorted.json');

beforeAll(() => {
  requireRetisLibrary();
  copyFileSync(join(fixtures, 'test_events.jsonl'), events);
  copyFileSync(join(fixtures, 'test_events_sorted.jsonl'), sorted);
  writeFileSync(
    join(tmp.dir, 'count.py'),
    'print("argv", sys.argv)\nprint("sorted", reader.sorted())\n' +
      'print("count", sum(1 for _ in (reader.series() if reader.sorted() else reader.events())))\n',
  );
});
afterAll(() => tmp.remove());

test('a script runs with reader (an EventFile of -i FILE) and its own arguments, options included', () => {
  const r = retracePython(['-i', events, join(tmp.dir, 'count.py'), 'one', '--two', '-i', 'x']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`argv ['${join(tmp.dir, 'count.py')}', 'one', '--two', '-i', 'x']\nsorted False\ncount 5\n`);
});

test('a sorted file gives series', () => {
  const r = retracePython(['-i', sorted, join(tmp.dir, 'count.py')]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('sorted True\ncount 4\n'); // series
});

test("a script given by name is found in retis's folder under HOME, .py added", () => {
  const home = join(tmp.dir, 'home');
  mkdirSync(join(home, '.config/retis/python'), { recursive: true });
  writeFileSync(join(home, '.config/retis/python/first.py'), 'print(next(iter(reader.events())).common.timestamp)\n');
  const r = retracePython(['-i', events, 'first'], { env: { HOME: home } });
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('23868643385852\n');
  const missing = retracePython(['-i', events, 'nothere'], { env: { HOME: home } });
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('Python script named nothere not found');
  expect(missing.stderr).toContain(join(home, '.config/retis/python'));
});

test('the default input is retis.data, else retrace.data, in the current directory', () => {
  const cwd = join(tmp.dir, 'cwd');
  mkdirSync(cwd);
  const none = retracePython([join(tmp.dir, 'count.py')], { cwd });
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('cannot open events file retis.data: no such file');
  copyFileSync(events, join(cwd, 'retrace.data'));
  const old = retracePython([join(tmp.dir, 'count.py')], { cwd });
  expect(old.code).toBe(0);
  expect(old.stdout).toContain('count 5');
  // retis.data wins when both are there (an empty one: the error shows which was opened)
  writeFileSync(join(cwd, 'retis.data'), '');
  const both = retracePython([join(tmp.dir, 'count.py')], { cwd });
  expect(both.stderr).toContain('retis.data');
});

test("without a script, Python's interactive console runs with reader defined", () => {
  const r = retracePython(['-i', sorted], { input: 'print("got", sum(len(s) for s in reader.series()))\n' });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('got 5');
  expect(r.stderr).toContain('(InteractiveConsole)');
});

test("a script's failure is Python's: its traceback and exit status", () => {
  writeFileSync(
    join(tmp.dir, 'fail.py'),
    'import sys\nif len(sys.argv) > 1: sys.exit(int(sys.argv[1]))\nraise ValueError("boom")\n',
  );
  expect(retracePython(['-i', events, join(tmp.dir, 'fail.py'), '7']).code).toBe(7);
  const r = retracePython(['-i', events, join(tmp.dir, 'fail.py')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/fail\.py", line 3[\s\S]*ValueError: boom/);
});

test('without the library, the message says what to pip install; without Python, what to install', () => {
  const bare = join(tmp.dir, 'bare');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', bare]);
  expect(made.status).toBe(0);
  const r = retracePython(['-i', events], { env: { RETRACE_PYTHON: join(bare, 'bin/python') } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("retis's Python library is not installed for");
  expect(r.stderr).toContain('-m pip install retis');
  const none = retracePython(['-i', events], { env: { RETRACE_PYTHON: join(tmp.dir, 'no-python') } });
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/cannot run .*no-python: retrace python needs Python 3 with retis's library/);
  expect(RETIS_PYTHON).toBeTruthy();
});
