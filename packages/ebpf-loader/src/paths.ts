import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export class BpfObjectMissingError extends Error {
  constructor(name: string, searched: string[]) {
    super(`BPF object '${name}' not found (looked in ${searched.join(', ')}); run \`make build\` to compile bpf/`);
    this.name = 'BpfObjectMissingError';
  }
}

/** Folder holding compiled BPF objects: $RETRACE_BPF_DIR, else bpf/.output of this checkout. */
export function bpfOutputDir(): string {
  const env = process.env['RETRACE_BPF_DIR'];
  if (env) return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bpf', '.output');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), 'bpf', '.output');
    dir = parent;
  }
}

/** Path of a compiled object: bpfObjectPath('features'), bpfObjectPath('tests/usdt_probe'). */
export function bpfObjectPath(name: string): string {
  const dir = bpfOutputDir();
  const path = join(dir, `${name}.bpf.o`);
  if (!existsSync(path)) throw new BpfObjectMissingError(name, [dir]);
  return path;
}

/** Path of another build artefact under the BPF output folder (test targets, bench tools). */
export function bpfArtifactPath(name: string): string {
  const dir = bpfOutputDir();
  const path = join(dir, name);
  if (!existsSync(path)) throw new BpfObjectMissingError(name, [dir]);
  return path;
}
