// No command writes over one of its inputs: the same file by name, through a symbolic or a hard
// link, or as standard input/output, is refused before the output is opened, and the input is
// left byte for byte as it was.
import { existsSync, linkSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { retraceBin, runRetrace } from '@retrace/e2e';
import { fixture, tempDir } from '../helpers/files.js';

const tmp = tempDir('rt-same-');
const dir = tmp.dir;
const events = join(dir, 'x.data');
const original = readFileSync(fixture('test_events.jsonl'));

beforeEach(() => writeFileSync(events, original));
afterAll(() => tmp.remove());

/** Runs retrace with a file as stdin or stdout (as a shell redirection would). */
function runWith(
  args: string[],
  io: { stdin?: string; stdoutAppend?: string },
): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [retraceBin(), ...args], {
    encoding: 'utf8',
    stdio: [io.stdin ? readFd(io.stdin) : 'ignore', io.stdoutAppend ? appendFd(io.stdoutAppend) : 'pipe', 'pipe'],
  });
  return { code: r.status, stderr: r.stderr };
}
const readFd = (p: string): number => openSync(p, 'r');
const appendFd = (p: string): number => openSync(p, 'a');

function expectRefused(r: { code: number | null; stderr: string }, output: string, input: string): void {
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(output);
  expect(r.stderr).toContain(input);
  expect(r.stderr).toMatch(/same file/);
  expect(r.stderr).toMatch(/choose another -o|redirect the output to another file/);
  expect(readFileSync(events)).toEqual(original);
}

test('sort and pcap refuse -o naming their input, and leave it whole', () => {
  expectRefused(runRetrace(['sort', events, '-o', events]), `-o ${events}`, `events file ${events}`);
  expectRefused(runRetrace(['pcap', events, '-o', events]), `-o ${events}`, `events file ${events}`);
});

test('a symbolic link or a hard link to the input is the same file', () => {
  const sym = join(dir, 'sym.data');
  const hard = join(dir, 'hard.data');
  rmSync(sym, { force: true });
  rmSync(hard, { force: true });
  symlinkSync(events, sym);
  linkSync(events, hard);
  const r = runRetrace(['sort', events, '-o', sym]);
  expectRefused(r, sym, events);
  expect(r.stderr).toContain('through a link');
  expectRefused(runRetrace(['sort', sym, '-o', hard]), hard, sym);
  expectRefused(runRetrace(['pcap', hard, '-o', events]), events, hard);
});

test('standard input read from the output file, and standard output appended to the input, are refused', () => {
  expectRefused(runWith(['sort', '-', '-o', events], { stdin: events }), `-o ${events}`, 'standard input');
  expectRefused(runWith(['print', events], { stdoutAppend: events }), 'standard output', events);
  expectRefused(runWith(['sort', events], { stdoutAppend: events }), 'standard output', events);
});

test('every command writing to standard output refuses one appended to its input: stats, pcap, filter', () => {
  expectRefused(runWith(['stats', events], { stdoutAppend: events }), 'standard output', events);
  expectRefused(runWith(['pcap', events], { stdoutAppend: events }), 'standard output', events);
  expectRefused(runWith(['pcap', events, '-o', '-'], { stdoutAppend: events }), 'standard output', events);
  const capture = join(dir, 'c.pcap');
  writeFileSync(capture, readFileSync(fixture('pcap/dns_udp.pcap')));
  const before = readFileSync(capture);
  const r = runWith(['filter', '-f', 'udp', capture], { stdoutAppend: capture });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`standard output is the same file as the capture ${capture}`);
  expect(readFileSync(capture)).toEqual(before);
});

test('an output that does not exist yet, or another file, is written as usual', () => {
  const out = join(dir, 'new.data');
  rmSync(out, { force: true });
  expect(runRetrace(['sort', events, '-o', out]).code).toBe(0);
  expect(existsSync(out)).toBe(true);
  // The same output again: it is no input, so it is replaced.
  expect(runRetrace(['sort', events, '-o', out]).code).toBe(0);
});

test('collect -o refuses the profile file it reads its arguments from', () => {
  const profile = join(dir, 'mine.yaml');
  const text = 'version: 1.0\nname: mine\nabout: test\ncollect:\n  - args:\n      collectors: skb\n';
  writeFileSync(profile, text);
  const r = runRetrace(['-p', profile, 'collect', '-o', profile, '--duration', '1']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`-o ${profile} is the same file as the profile ${profile}`);
  expect(readFileSync(profile, 'utf8')).toBe(text);
});

test('events -o and --pcap refuse the credentials they read', () => {
  const ca = join(dir, 'ca.crt');
  writeFileSync(ca, 'not a real certificate\n');
  for (const flag of ['-o', '--pcap']) {
    const r = runRetrace(['events', 't', '--server', '127.0.0.1:1', '--ca', ca, flag, ca]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${flag} ${ca} is the same file as the --ca certificate ${ca}`);
    expect(readFileSync(ca, 'utf8')).toBe('not a real certificate\n');
  }
});
