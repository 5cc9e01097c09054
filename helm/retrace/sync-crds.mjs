#!/usr/bin/env node
// Copies the repository's CRDs (crds/*.yaml, the single source) into the chart, whose templates
// cannot read outside it. `--check` copies nothing and fails when the chart's copies differ.
// Run from anywhere: node helm/retrace/sync-crds.mjs [--check]
import { copyFileSync, mkdirSync, readdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const chart = dirname(fileURLToPath(import.meta.url));
const source = join(chart, '..', '..', 'crds');
const target = join(chart, 'files', 'crds');
const check = process.argv.includes('--check');

const yamls = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
    : [];
const wanted = yamls(source);
if (wanted.length === 0) {
  process.stderr.write(`sync-crds: no CRDs in ${source}\n`);
  process.exit(1);
}

const stale = [];
for (const f of wanted) {
  const copy = join(target, f);
  if (!existsSync(copy) || !readFileSync(copy).equals(readFileSync(join(source, f)))) stale.push(f);
}
const extra = yamls(target).filter((f) => !wanted.includes(f));

if (check) {
  if (stale.length || extra.length) {
    process.stderr.write(
      `sync-crds: the chart's CRDs differ from crds/ (${[...stale, ...extra].join(', ')}); run node helm/retrace/sync-crds.mjs\n`,
    );
    process.exit(1);
  }
  process.exit(0);
}
mkdirSync(target, { recursive: true });
for (const f of stale) copyFileSync(join(source, f), join(target, f));
for (const f of extra) rmSync(join(target, f));
process.stdout.write(
  `sync-crds: ${stale.length} copied, ${extra.length} removed, ${wanted.length - stale.length} unchanged\n`,
);
