// Every example of docs/scripting.md runs, as a user would paste it, against retis's test files:
// the stable scripting API does what its page says.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { fixturePath } from './helpers/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const API = pathToFileURL(join(ROOT, 'packages/events/dist/script/index.js')).href;
const page = readFileSync(join(ROOT, 'docs/scripting.md'), 'utf8');
const examples = [...page.matchAll(/```(js|ts)\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1] as string,
  code: m[2] as string,
}));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-script-docs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(lang: string, code: string, i: number): { code: number | null; stdout: string; stderr: string } {
  // The API as built (`npx tsc -b`), wherever the script is written.
  let js = code.replaceAll("'@retrace/events/script'", `'${API}'`);
  if (lang === 'ts')
    js = ts.transpileModule(js, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
  const file = join(dir, `example-${i}.mjs`);
  writeFileSync(file, js);
  const r = spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    env: { ...process.env, EVENTS: fixturePath('test_events.jsonl'), SORTED: fixturePath('test_events_sorted.jsonl') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the page has its examples', () => {
  expect(examples.length).toBeGreaterThanOrEqual(4);
});

test.each(examples.map((e, i) => [i, e.lang, e.code] as const))('example %i (%s) runs', (i, lang, code) => {
  const r = run(lang, code, i);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).not.toBe('');
});

test('the examples print what the test files hold', () => {
  const out = examples.map((e, i) => run(e.lang, e.code, i).stdout);
  expect(out[1]).toContain('tcp_v4_rcv');
  expect(out[2]).toContain('sorted: true, written by retis v1.6.0');
  expect(out[3]).toMatch(/^\d+ tracked event\(s\)\n$/);
});
