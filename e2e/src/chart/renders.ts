// The chart (helm/retrace) as the chart tests render it: the real `helm template` for values.yaml
// and each ci/ values file (cached: identical renders run once per test file), and readers of
// the rendered objects (workloads, pods, containers, Secrets) and of the binaries' flags.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../k8s/real-cluster.js';
import { helmTemplate, type TemplateOptions } from './helm.js';
import { parseYaml, type Manifest } from './manifests.js';

export const ROOT = REPO_ROOT;
export const CHART = join(ROOT, 'helm', 'retrace');
export const NS = 'retrace-system';
/** The Kubernetes the renders assume unless a test says otherwise (helm's own default is older than the chart allows). */
export const KUBE_VERSION = 'v1.30.0';

export type Obj = Record<string, unknown>;
export const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const CI_FILES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
/** Variant name -> the values files given to helm: `default` is values.yaml alone. */
export const VARIANTS: Record<string, string[]> = {
  default: [],
  ...Object.fromEntries(CI_FILES.map((f) => [f.replace(/-values\.yaml$/, ''), [join(CHART, 'ci', f)]])),
};
export const variantValues = (variant: string): Obj[] =>
  (VARIANTS[variant] ?? []).map((f) => obj(parseYaml(readFileSync(f, 'utf8'))));

export interface RenderInput {
  variant?: string;
  release?: string;
  namespace?: string;
  values?: Obj[];
  kubeVersion?: string;
}

/** `helm template` is a process per render: identical inputs are rendered once per file. */
const cache = new Map<string, Promise<Manifest[]>>();
export function render(input: RenderInput = {}): Promise<Manifest[]> {
  const o: TemplateOptions = {
    release: input.release ?? 'retrace',
    namespace: input.namespace ?? NS,
    valuesFiles: VARIANTS[input.variant ?? 'default'] ?? [],
    values: input.values ?? [],
    kubeVersion: input.kubeVersion ?? KUBE_VERSION,
  };
  const key = JSON.stringify(o);
  let r = cache.get(key);
  if (!r) {
    r = helmTemplate(CHART, o);
    r.catch(() => undefined); // awaited (or expected to fail) by the test that asked
    cache.set(key, r);
  }
  return r;
}
export const renderVariant = (variant: string): Promise<Manifest[]> => render({ variant });

export const find = (ms: Manifest[], kind: string, name: string): Obj => {
  const m = ms.find((x) => x.object.kind === kind && x.object.metadata.name === name);
  if (!m)
    throw new Error(`no ${kind}/${name} in ${ms.map((x) => `${x.object.kind}/${x.object.metadata.name}`).join(', ')}`);
  return m.object;
};
export const kinds = (ms: Manifest[], kind: string): Obj[] =>
  ms.filter((m) => m.object.kind === kind).map((m) => m.object);
export const podSpec = (workload: Obj): Obj => obj(obj(obj(workload['spec'])['template'])['spec']);
export const podAnnotations = (workload: Obj): Obj =>
  obj(obj(obj(obj(workload['spec'])['template'])['metadata'])['annotations']);
export const containers = (workload: Obj): Obj[] => arr(podSpec(workload)['containers']).map(obj);
export const args = (c: Obj): string[] => arr(c['args']).map(String);
/** A Secret's data, decoded. */
export const secretData = (ms: Manifest[], name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(obj(find(ms, 'Secret', name)['data'])).map(([k, v]) => [
      k,
      Buffer.from(String(v), 'base64').toString(),
    ]),
  );

/**
 * The long options a built program accepts, as its own `--help` lists them (one option per line:
 * `  -x, --name <VALUE>  text`): what the program takes, not what its source seems to say.
 */
export function binaryFlags(program: string): Set<string> {
  const help = execFileSync(process.execPath, [join(REPO_ROOT, program), '--help'], { encoding: 'utf8' });
  return new Set([...help.matchAll(/^ {2}(?:-\w, )?--([a-z][a-z0-9-]*)/gm)].map((m) => m[1] as string));
}
