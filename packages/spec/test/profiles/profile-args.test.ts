// -p NAME[,NAME] end to end without a kernel: the search path, duplicates, file paths, the
// chosen entry's flags in profile order, and the errors a user sees.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DuplicateProfileError,
  ProfileArgumentError,
  ProfileFormatError,
  ProfileNoMatchError,
  ProfileNotFoundError,
} from '../../src/profiles/errors.js';
import type { OptionShape } from '../../src/profiles/expand-args.js';
import { profileArguments, profileNames, type ProfileContext } from '../../src/profiles/profile-args.js';
import { BUILTIN_PROFILES_DIR, profileDirs } from '../../src/profiles/search-path.js';
import type { KernelFacts } from '../../src/profiles/conditions.js';
import { fakeKernel } from './fake-kernel.js';

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'e2e',
  'fixtures',
  'retis-profiles',
);
const options: OptionShape[] = ['--collectors', '--probe', '--skb-sections', '--nft-verdicts'].map((flag) => ({
  flag,
  value: 'required',
}));
let tmp: string;
let notes: string[];

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rt-profiles-'));
  notes = [];
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function dir(name: string, files: Record<string, string>): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
}

function ctx(dirs: string[], kernel: KernelFacts = fakeKernel('6.18.44-fc-v657')): ProfileContext {
  return { dirs, kernel, warn: (l) => notes.push(l) };
}

const simple = (name: string, collectors: string): string =>
  `version: 1.0\nname: ${name}\nabout: ${name} test\ncollect:\n  - args:\n      collectors: ${collectors}\n`;

test('the built-in directory is profiles/ at the repository root, searched after -P', () => {
  expect(BUILTIN_PROFILES_DIR).toBe(join(fixtures, '..', '..', '..', 'profiles'));
  const dirs = profileDirs(['/x'], '/home/u');
  expect(dirs).toEqual([
    '/x',
    BUILTIN_PROFILES_DIR,
    '/home/u/.config/retrace/profiles',
    '/usr/share/retrace/profiles',
    '/etc/retrace/profiles',
    // retis's, after retrace's own: a retis user's profiles are found as they are.
    '/home/u/.config/retis/profiles',
    '/usr/share/retis/profiles',
    '/etc/retis/profiles',
  ]);
});

test("a profile in retis's per-user directory is found by name; retrace's own of the same name comes first", () => {
  dir('home/.config/retis/profiles', { 'mine.yaml': simple('mine', 'skb'), 'dup.yaml': simple('dup', 'nft') });
  dir('home/.config/retrace/profiles', { 'dup.yaml': simple('dup', 'ct') });
  const dirs = profileDirs([], join(tmp, 'home'));
  expect(profileArguments(['mine'], 'collect', options, ctx(dirs))).toEqual(['--collectors', 'skb']);
  expect(profileArguments(['dup'], 'collect', options, ctx(dirs))).toEqual(['--collectors', 'ct']);
});

test("retis's dropmon gives its collect flags and says which entry applied", () => {
  expect(profileArguments(['dropmon'], 'collect', options, ctx([fixtures]))).toEqual([
    '--collectors',
    'skb-drop,skb,dev,ns',
    '--probe',
    'tp:skb:kfree_skb/stack',
  ]);
  expect(notes).toContain(
    'profile dropmon: applying collect entry 1: --collectors skb-drop,skb,dev,ns --probe tp:skb:kfree_skb/stack',
  );
  expect(profileArguments(['dropmon'], 'pcap', [{ flag: '--probe', value: 'required' }], ctx([fixtures]))).toEqual([
    '--probe',
    'tp:skb:kfree_skb',
  ]);
});

test('a comma list (and repeated -p) applies profiles in the order given', () => {
  const d = dir('a', { 'one.yaml': simple('one', 'skb'), 'two.yml': simple('two', 'dev') });
  expect(profileNames(['two,one', 'two'])).toEqual(['two', 'one', 'two']);
  expect(profileArguments(['two,one'], 'collect', options, ctx([d]))).toEqual([
    '--collectors',
    'dev',
    '--collectors',
    'skb',
  ]);
});

test('a -P directory comes first: its profile hides a later one of the same name', () => {
  const first = dir('first', { 'x.yaml': simple('same', 'skb') });
  const second = dir('second', { 'x.yaml': simple('same', 'dev') });
  expect(profileArguments(['same'], 'collect', options, ctx([first, second]))).toEqual(['--collectors', 'skb']);
});

test('only .yaml and .yml files are profiles', () => {
  const d = dir('ext', { 'p.txt': simple('txt', 'skb'), 'p.yaml.bak': simple('bak', 'skb') });
  expect(() => profileArguments(['txt'], 'collect', options, ctx([d]))).toThrow(ProfileNotFoundError);
});

test('two profiles of one name in one directory: an error naming both files', () => {
  const d = dir('dup', { 'a.yaml': simple('twin', 'skb'), 'b.yaml': simple('twin', 'dev') });
  const run = () => profileArguments(['twin'], 'collect', options, ctx([d]));
  expect(run).toThrow(DuplicateProfileError);
  expect(run).toThrow(`${join(d, 'a.yaml')} and ${join(d, 'b.yaml')}`);
});

test('an unknown name lists the profiles there are and the directories searched', () => {
  const d = dir('some', { 'a.yaml': simple('alpha', 'skb') });
  const run = () => profileArguments(['nope'], 'collect', options, ctx([d, fixtures]));
  expect(run).toThrow(ProfileNotFoundError);
  expect(run).toThrow(
    /no profile named 'nope'; available: alpha, dropmon, example-profile, generic, ifdump, nft-dropmon/,
  );
  expect(run).toThrow(`searched ${d}, ${fixtures}`);
});

test('a path (with / or ending in .yaml) is read directly; a file of several profiles needs -P and a name', () => {
  expect(profileArguments([join(fixtures, 'ifdump.yaml')], 'collect', options, ctx([]))).toEqual([
    '--probe',
    'tp:net:netif_receive_skb',
    '--probe',
    'tp:net:net_dev_start_xmit',
  ]);
  expect(() => profileArguments([join(fixtures, 'drop.yaml')], 'collect', options, ctx([]))).toThrow(
    /holds several profiles \(dropmon, nft-dropmon\); choose one with -P/,
  );
});

test('the chosen entry with a key collect does not have: error naming the file, entry and key', () => {
  const kernel = fakeKernel('5.0.0', ['some_kprobe']); // entry 1 of example.yaml, with ovs-track
  const run = () => profileArguments(['example-profile'], 'collect', options, ctx([fixtures], kernel));
  expect(run).toThrow(ProfileArgumentError);
  expect(run).toThrow(
    `profile example-profile (${join(fixtures, 'example.yaml')}), collect entry 1 'A minimum kernel version that has a symbol': 'ovs-track' (line 30): retrace collect has no --ovs-track option`,
  );
});

test('on a kernel where a fitting entry is valid, the others only warn', () => {
  expect(profileArguments(['example-profile'], 'collect', options, ctx([fixtures]))).toEqual(['--collectors', 'skb']);
  expect(notes).toContain("profile example-profile: applying collect entry 5 'Default': --collectors skb");
  expect(notes.some((n) => /warning: .*collect entry 1 .*not used on this kernel.*ovs-track/.test(n))).toBe(true);
  const old = profileArguments(['example-profile'], 'collect', options, ctx([fixtures], fakeKernel('4.19.0')));
  expect(old).toEqual(['--collectors', 'skb', '--skb-sections', 'l3']);
});

test('no entry for this kernel: an error with the profile and the kernel release', () => {
  const d = dir('old', {
    'old.yaml':
      'version: 1.0\nname: old\ncollect:\n  - when: [{type: version, version: "<5"}]\n    args: {collectors: skb}\n',
  });
  const run = () => profileArguments(['old'], 'collect', options, ctx([d]));
  expect(run).toThrow(ProfileNoMatchError);
  expect(run).toThrow(
    /profile old \(.*old\.yaml\): no collect entry matched this kernel \(release 6\.18\.44-fc-v657\)/,
  );
});

test('symbol conditions decide between entries', () => {
  const d = dir('sym', {
    's.yaml':
      'version: 1.0\nname: s\ncollect:\n' +
      '  - when: [{type: symbol, name: "net:netif_receive_skb", exists: false}]\n    args: {collectors: dev}\n' +
      '  - when: [{type: symbol, name: kfree_skb_reason}]\n    args: {collectors: skb}\n' +
      '  - args: {collectors: ns}\n',
  });
  const with_ = (symbols: string[]) =>
    profileArguments(['s'], 'collect', options, ctx([d], fakeKernel('6.1', symbols)));
  expect(with_([])).toEqual(['--collectors', 'dev']);
  expect(with_(['net:netif_receive_skb', 'kfree_skb_reason'])).toEqual(['--collectors', 'skb']);
  expect(with_(['net:netif_receive_skb'])).toEqual(['--collectors', 'ns']);
});

test('a profile without the section is noted and adds nothing', () => {
  expect(profileArguments(['ifdump'], 'pcap', options, ctx([fixtures]))).toEqual([]);
  expect(notes).toContain('profile ifdump: no pcap entries, nothing applied');
});

test('a broken file elsewhere in the directory is reported, and names its file and line', () => {
  const d = dir('broken', { 'bad.yaml': 'version: 1.0\nname: [x\n', 'good.yaml': simple('good', 'skb') });
  expect(profileArguments(['good'], 'collect', options, ctx([d]))).toEqual(['--collectors', 'skb']);
  expect(notes.some((n) => n.startsWith(`warning: skipped profile file ${join(d, 'bad.yaml')} line`))).toBe(true);
  expect(() => profileArguments([join(d, 'bad.yaml')], 'collect', options, ctx([]))).toThrow(ProfileFormatError);
});

test('a profile of format 2.0 is skipped with a warning; asking for it says why it is missing', () => {
  const d = dir('v2', { 'f.yaml': 'version: 2.0\nname: future\n' });
  expect(() => profileArguments(['future'], 'collect', options, ctx([d]))).toThrow(
    /no profile named 'future'.*f\.yaml has a 'future' of another format version \(skipped\)/,
  );
  expect(notes).toEqual([expect.stringMatching(/warning: .*f\.yaml: profile future has format version 2\.0.*skipped/)]);
});
