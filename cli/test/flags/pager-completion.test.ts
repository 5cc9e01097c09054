// The pager (print, sort; a terminal only; PAGER, else less -FRX; NOPAGER turns it off) and
// shell completion made from the command line's own definition.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRetrace } from '@retrace/e2e';
import { PAGED_VERBS, pagerCommand } from '../../src/pager.js';

test("print and sort are paged, on a terminal only, as retis: PAGER, else less -FRX; NOPAGER, '' or cat: none", () => {
  expect([...PAGED_VERBS]).toEqual(['print', 'sort']);
  const path = process.env.PATH;
  expect(pagerCommand({ PATH: path }, false)).toBeUndefined();
  expect(pagerCommand({ PATH: '/nonexistent' }, true)).toBeUndefined();
  expect(pagerCommand({ PAGER: 'most' }, true)).toBe('most');
  expect(pagerCommand({ PAGER: 'most', NOPAGER: '' }, true)).toBeUndefined();
  expect(pagerCommand({ PAGER: '' }, true)).toBeUndefined();
  expect(pagerCommand({ PAGER: 'cat' }, true)).toBeUndefined();
  expect(pagerCommand({ PAGER: 'most', RETRACE_PAGED: '1' }, true)).toBeUndefined();
  const less = spawnSync('sh', ['-c', 'command -v less']).status === 0;
  if (less) expect(pagerCommand({ PATH: path }, true)).toBe('less -FRX');
});

test('on a terminal the output goes through the pager, errors too; not through a pipe', () => {
  const script = (cmd: string, env: Record<string, string>): string =>
    spawnSync('script', ['-qc', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout;
  const bin = join(process.cwd(), 'cli', 'dist', 'bin', 'retrace.js');
  const paged = script(`${process.execPath} ${bin} print /nonexistent-rflags`, { PAGER: 'sed s/^/PAGED:/' });
  expect(paged).toMatch(/PAGED:retrace: cannot open events file \/nonexistent-rflags/);
  const off = script(`${process.execPath} ${bin} print /nonexistent-rflags`, {
    PAGER: 'sed s/^/PAGED:/',
    NOPAGER: '1',
  });
  expect(off).not.toMatch(/PAGED:/);
  const broken = script(`${process.execPath} ${bin} print /nonexistent-rflags; echo rc=$?`, {
    PAGER: 'no-such-pager-rflags',
  });
  expect(broken).toMatch(/the pager 'no-such-pager-rflags' could not run; set PAGER to a pager, or NOPAGER=1/);
  expect(broken).toMatch(/rc=1/);
  expect(runRetrace(['print', '/nonexistent-rflags']).stderr).not.toMatch(/PAGED/);
});

test('bash completion offers verbs, flags, their values (short flags too) and files', () => {
  const r = runRetrace(['sh-complete', '--shell', 'bash']);
  expect(r.code).toBe(0);
  const dir = mkdtempSync(join(tmpdir(), 'rflags-comp-'));
  try {
    const ask = (words: string[]): string => {
      const sh = [
        r.stdout,
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=()`,
        '_retrace; echo "${COMPREPLY[*]}"',
      ].join('\n');
      return spawnSync('bash', ['-c', sh], { encoding: 'utf8', cwd: dir }).stdout.trim();
    };
    expect(ask(['retrace', 'co']).split(' ')).toEqual(['collect', 'completion']);
    expect(ask(['retrace', 'collect', '--probe-s'])).toBe('--probe-stack');
    expect(ask(['retrace', 'collect', '--kc'])).toBe('--kconf');
    expect(ask(['retrace', 'collect', '-c', 's']).split(' ')).toEqual(['skb-tracking', 'skb', 'skb-drop']);
    expect(ask(['retrace', '--log-level', ''])).toBe('error warn info debug trace');
    expect(ask(['retrace', 'collect', '--format', ''])).toBe('single-line multi-line');
    expect(ask(['retrace', 'profile', ''])).toBe('list --help');
    expect(ask(['retrace', 'print', 'x.data', '--u'])).toBe('--utc');
    expect(ask(['retrace', 'sh-complete', '--shell', ''])).toBe('bash zsh fish');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zsh and fish scripts, --register into a directory under the shell’s name, bad shells refused', () => {
  const zsh = runRetrace(['completion', 'zsh']).stdout;
  expect(zsh.split('\n')[0]).toBe('#compdef retrace');
  expect(zsh).toMatch(/bashcompinit/);
  const fish = runRetrace(['sh-complete', '--shell', 'fish']).stdout;
  expect(fish).toMatch(/complete -c retrace -n '__fish_use_subcommand' -a collect/);
  expect(fish).toMatch(/-l log-level -x -a 'error warn info debug trace'/);
  expect(fish).toMatch(/-n '__fish_seen_subcommand_from collect' -l probe-stack/);
  const dir = mkdtempSync(join(tmpdir(), 'rflags-reg-'));
  try {
    const reg = runRetrace(['sh-complete', '--shell', 'fish', '--register', dir]);
    expect(reg.code).toBe(0);
    expect(readFileSync(join(dir, 'retrace.fish'), 'utf8')).toBe(fish);
    expect(runRetrace(['sh-complete', '--shell', 'zsh', '--register', dir]).code).toBe(0);
    expect(readFileSync(join(dir, '_retrace'), 'utf8')).toBe(zsh);
    const bad = runRetrace(['sh-complete', '--shell', 'fish', '--register', join(dir, 'no', 'such', 'dir', 'f')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--register .*: cannot write .* \(ENOENT\); give a writable file or directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const tcsh = runRetrace(['sh-complete', '--shell', 'tcsh']);
  expect(tcsh.code).toBe(2);
  expect(tcsh.stderr).toMatch(/--shell 'tcsh': no completion for that shell; give one of bash, zsh, fish/);
  expect(runRetrace(['sh-complete']).stderr).toMatch(/--shell <shell>' not specified/);
});
