// @retrace/spec stays pure: what the operator and the CLI load to check a trace brings no native
// code, no gRPC and no Kubernetes client. Its sources import node's own modules, yaml and each other.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('its only dependency is yaml', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, object | undefined>;
  expect(Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies })).toEqual(['yaml']);
});

test('its sources import node:, yaml and relative modules only', () => {
  const foreign: string[] = [];
  for (const file of sources(join(root, 'src')))
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      const what = m[1] ?? '';
      if (!what.startsWith('node:') && !what.startsWith('.') && what !== 'yaml') foreign.push(`${file}: ${what}`);
    }
  expect(foreign).toEqual([]);
});
