#!/usr/bin/env node
// Prints the folders of the workspace packages an image needs: the component's package and every
// package it may import, transitively, as layers.js says. So the image carries what the component
// can load and nothing above or beside it (the operator's image has no native addon).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from '../layers.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const name = `@retrace/${process.argv[2] ?? ''}`;
if (!LAYERS[name]) {
  console.error(`workspaces-of: no package ${name} in layers.js`);
  process.exit(2);
}
const seen = new Set();
const visit = (n) => {
  if (seen.has(n)) return;
  seen.add(n);
  for (const u of LAYERS[n].uses) visit(u);
};
visit(name);
// Folders are relative to the repository root (where build-steps.sh runs); a layer not yet made a
// package has no folder.
const dirs = [...seen].map((n) => LAYERS[n].dir).filter((d) => existsSync(join(ROOT, d, 'package.json')));
console.log(dirs.join(' '));
