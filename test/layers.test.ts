// The layers of layers.js hold in every package's manifest, tsconfig and relative imports (eslint
// checks the imports by package name): an arrow pointing up fails here, naming it.
import { expect, test } from '@jest/globals';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from '../layers.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
type Layer = { dir: string; uses: string[] };
const layers = Object.entries(LAYERS as Record<string, Layer>);
const nameOfDir = new Map(layers.map(([name, l]) => [l.dir, name]));
const json = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, unknown>;

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'node_modules' || f === 'dist' ? [] : tsFiles(p);
    return f.endsWith('.ts') ? [p] : [];
  });
}

test('every workspace has a layer, and every layer with a folder is a workspace', () => {
  const workspaces = json('package.json').workspaces as string[];
  expect(workspaces.filter((w) => !nameOfDir.has(w))).toEqual([]);
  const present = layers.filter(([, l]) => existsSync(join(ROOT, l.dir, 'package.json'))).map(([, l]) => l.dir);
  expect(present.filter((d) => !workspaces.includes(d))).toEqual([]);
});

test('no package depends on a package above it (package.json and tsconfig references)', () => {
  const wrong: string[] = [];
  for (const [name, l] of layers) {
    if (!existsSync(join(ROOT, l.dir, 'package.json'))) continue;
    const pkg = json(`${l.dir}/package.json`);
    const deps = Object.keys({ ...(pkg.dependencies as object), ...(pkg.devDependencies as object) });
    for (const d of deps.filter((d) => d.startsWith('@retrace/')))
      if (!l.uses.includes(d)) wrong.push(`${l.dir}/package.json depends on ${d}`);
    const refs = (json(`${l.dir}/tsconfig.json`).references ?? []) as { path: string }[];
    for (const r of refs) {
      const target = nameOfDir.get(relative(ROOT, resolve(ROOT, l.dir, r.path)));
      if (target && !l.uses.includes(target)) wrong.push(`${l.dir}/tsconfig.json references ${target}`);
    }
    if (name !== pkg.name) wrong.push(`${l.dir} is ${String(pkg.name)}, layers.js says ${name}`);
  }
  expect(wrong).toEqual([]);
});

test('no relative import leaves its package (import another package by its name)', () => {
  const wrong: string[] = [];
  for (const [, l] of layers) {
    const base = join(ROOT, l.dir);
    for (const file of [...tsFiles(join(base, 'src')), ...tsFiles(join(base, 'test'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']*)'/g)) {
        const target = resolve(dirname(file), m[1] ?? '');
        if (relative(base, target).startsWith('..')) wrong.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
  }
  expect(wrong).toEqual([]);
});
