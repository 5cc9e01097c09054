// Reading profile files: retis's own files, several documents per file, format versions, and
// errors that name the file and line.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProfileFormatError } from '../../src/profiles/errors.js';
import { loadProfileFile, parseProfileFile } from '../../src/profiles/profile-file.js';

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

function formatError(text: string): ProfileFormatError {
  try {
    parseProfileFile(text, '/p/bad.yaml');
  } catch (e) {
    if (e instanceof ProfileFormatError) return e;
    throw e;
  }
  throw new Error('no error');
}

test("retis's four profile files load: names, sections, args as written", () => {
  const names = ['drop', 'example', 'generic', 'ifdump'].flatMap((f) =>
    loadProfileFile(join(fixtures, `${f}.yaml`)).profiles.map((p) => p.name),
  );
  expect(names).toEqual(['dropmon', 'nft-dropmon', 'example-profile', 'generic', 'ifdump']);
  const [dropmon, nft] = loadProfileFile(join(fixtures, 'drop.yaml')).profiles;
  expect(dropmon?.sections.collect?.[0]?.args).toEqual([
    { key: 'collectors', value: 'skb-drop,skb,dev,ns', line: 6 },
    { key: 'probe', value: 'tp:skb:kfree_skb/stack', line: 7 },
  ]);
  expect(dropmon?.sections.pcap?.[0]?.args[0]?.value).toBe('tp:skb:kfree_skb');
  expect(nft?.sections.collect?.[0]?.args.map((a) => a.key)).toEqual(['collectors', 'nft_verdicts', 'probe']);
  const generic = loadProfileFile(join(fixtures, 'generic.yaml')).profiles[0];
  expect(generic?.sections.collect?.[0]?.args[1]?.value).toHaveLength(25);
  expect(generic?.sections.pcap).toBeUndefined();
  const example = loadProfileFile(join(fixtures, 'example.yaml')).profiles[0];
  expect(example?.sections.collect?.[0]?.args[1]).toEqual({ key: 'ovs-track', value: null, line: 30 });
});

test('values keep the text written: 1.50 stays 1.50, true stays true, ~ is null', () => {
  const [p] = parseProfileFile(
    'version: 1.0\nname: x\ncollect:\n  - args:\n      a: 1.50\n      b: true\n      c: ~\n      d:\n      e: [1, "two"]\n',
    'x.yaml',
  ).profiles;
  expect(p?.sections.collect?.[0]?.args.map((a) => a.value)).toEqual(['1.50', 'true', null, null, ['1', 'two']]);
});

test('format 2.0 is skipped with a warning naming the file; other documents still load', () => {
  const f = parseProfileFile(
    'version: 2.0\nname: future\nwhatever: {}\n---\nversion: 1.0\nname: today\n',
    '/p/two.yaml',
  );
  expect(f.profiles.map((p) => p.name)).toEqual(['today']);
  expect(f.skipped).toEqual(['future']);
  expect(f.warnings).toEqual([
    expect.stringMatching(/\/p\/two\.yaml: profile future has format version 2\.0.*skipped/),
  ]);
});

test('format 1.9 loads with a partial-support warning, ignoring keys it does not know', () => {
  const f = parseProfileFile(
    'version: 1.9\nname: newer\ncolour: blue\ncollect:\n  - args: {collectors: skb}\n    priority: 3\n',
    '/p/newer.yaml',
  );
  expect(f.profiles[0]?.sections.collect?.[0]?.args).toEqual([{ key: 'collectors', value: 'skb', line: 5 }]);
  expect(f.warnings).toEqual([expect.stringMatching(/\/p\/newer\.yaml: .*1\.9.*partial support/)]);
});

test('broken YAML names the file and line', () => {
  const e = formatError('version: 1.0\nname: x\ncollect:\n  - args: {probe: [a, b}\n');
  expect(e.message).toMatch(/^profile file \/p\/bad\.yaml line \d+: invalid YAML/);
  expect(e.line).toBeGreaterThanOrEqual(4);
});

test.each([
  ['name: x\n', 1, /no 'version'/],
  ['version: 1\nname: x\n', 1, /MAJOR\.MINOR/],
  ['version: 1.0\nabout: no name\n', 1, /no 'name'/],
  ['version: 1.0\nname: [a]\n', 2, /name must be a single value/],
  ['version: 1.0\nname: x\ncolect: []\n', 3, /unknown key 'colect'.*known: version, name, about, collect, pcap/],
  ['version: 1.0\nname: x\ncollect:\n  args: {}\n', 4, /collect must be a list/],
  ['version: 1.0\nname: x\ncollect:\n  - when: []\n', 4, /collect entry 1 has no 'args'/],
  [
    'version: 1.0\nname: x\ncollect:\n  - args:\n      probe: {a: b}\n',
    5,
    /probe must be a single value, not a mapping/,
  ],
  ['version: 1.0\nname: x\ncollect:\n  - when: [{type: kernel}]\n    args: {}\n', 4, /type must be version or symbol/],
  [
    'version: 1.0\nname: x\ncollect:\n  - when:\n      - type: version\n        version: "4.6"\n    args: {}\n',
    6,
    /not COMPARATOR/,
  ],
  [
    'version: 1.0\nname: x\ncollect:\n  - when:\n      - {type: symbol, name: f, exists: maybe}\n    args: {}\n',
    5,
    /exists must be true or false/,
  ],
])('%p is refused at line %p', (text, line, message) => {
  const e = formatError(text);
  expect(e.line).toBe(line);
  expect(e.message).toMatch(message);
  expect(e.message).toContain('/p/bad.yaml');
});

test('a missing file is a format error naming it', () => {
  expect(() => loadProfileFile('/nonexistent/p.yaml')).toThrow(/\/nonexistent\/p\.yaml: cannot be read/);
});
