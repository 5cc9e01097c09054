// The real helm on a chart folder, without a cluster: `helm template` (client-side: `lookup`
// finds nothing), `helm lint --strict`, and NOTES.txt. The binary is the one e2e/k8s/cluster.sh
// builds (build_binaries in e2e/k8s/lib/binaries.sh) into $RETRACE_K8S_CACHE/bin, by default
// /var/cache/retrace-k8s/bin.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitManifests, type Manifest } from './manifests.js';

const execFileAsync = promisify(execFile);

/** The helm binary cluster.sh built; an error saying how to build it when it is not there. */
export function helmBinary(): string {
  const cache = process.env.RETRACE_K8S_CACHE || '/var/cache/retrace-k8s';
  const bin = join(cache, 'bin', 'helm');
  if (!existsSync(bin))
    throw new Error(
      `no helm at ${bin}: run \`e2e/k8s/cluster.sh build\` (it builds helm with the cluster's binaries into ${cache}/bin; RETRACE_K8S_CACHE moves it)`,
    );
  return bin;
}

/** helm exited non-zero; `output` is what it said (stderr, then stdout). */
export class HelmError extends Error {
  readonly args: string[];
  readonly output: string;
  constructor(args: string[], code: number | string | null, output: string) {
    super(`helm ${args.join(' ')} failed (exit ${code}):\n${output}`);
    this.name = 'HelmError';
    this.args = args;
    this.output = output;
  }
}

/** Runs helm with `args`; its stdout, or a HelmError. */
export async function helm(args: string[]): Promise<string> {
  const bin = helmBinary();
  try {
    const { stdout } = await execFileAsync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    return stdout;
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    throw new HelmError(args, err.code ?? null, `${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

export interface ValuesOptions {
  /** Values files (`-f`), in order. */
  valuesFiles?: string[];
  /** Values, after the files: each is written to a temporary file given with `-f`. */
  values?: unknown[];
  /** `--set` expressions, last. */
  set?: string[];
}

export interface TemplateOptions extends ValuesOptions {
  release: string;
  namespace: string;
  /** `--kube-version` (Capabilities.KubeVersion, and the chart's kubeVersion check). */
  kubeVersion?: string;
  /** `--api-versions` (Capabilities.APIVersions). */
  apiVersions?: string[];
}

/** Runs `run` with the `-f`/`--set` arguments of `o`; temporary values files are removed after. */
async function withValues<T>(o: ValuesOptions, run: (args: string[]) => Promise<T>): Promise<T> {
  const dir = o.values?.length ? mkdtempSync(join(tmpdir(), 'rt-helm-values-')) : undefined;
  try {
    const files = [...(o.valuesFiles ?? [])];
    o.values?.forEach((v, i) => {
      const f = join(dir as string, `values-${i}.json`); // JSON is YAML
      writeFileSync(f, JSON.stringify(v));
      files.push(f);
    });
    return await run([...files.flatMap((f) => ['-f', f]), ...(o.set ?? []).flatMap((s) => ['--set', s])]);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const capabilityArgs = (o: TemplateOptions): string[] => [
  ...(o.kubeVersion ? ['--kube-version', o.kubeVersion] : []),
  ...(o.apiVersions ?? []).flatMap((a) => ['--api-versions', a]),
];

/** `helm template RELEASE CHART -n NS ...`, as Kubernetes objects. */
export function helmTemplate(chart: string, o: TemplateOptions): Promise<Manifest[]> {
  return withValues(o, async (values) =>
    splitManifests(await helm(['template', o.release, chart, '-n', o.namespace, ...values, ...capabilityArgs(o)])),
  );
}

/** `helm lint --strict CHART ...`: its report when the chart passes, a HelmError naming the problems when not. */
export function helmLint(chart: string, o: ValuesOptions & { kubeVersion?: string } = {}): Promise<string> {
  return withValues(o, (values) =>
    helm(['lint', '--strict', chart, ...values, ...(o.kubeVersion ? ['--kube-version', o.kubeVersion] : [])]),
  );
}

/**
 * NOTES.txt as `helm install` prints it: `helm template` does not render notes, and a client-side
 * dry run contacts no cluster (helm assumes the Kubernetes of the client-go it was built with).
 */
export async function helmNotes(
  chart: string,
  o: Omit<TemplateOptions, 'kubeVersion' | 'apiVersions'>,
): Promise<string> {
  const out = await withValues(o, (values) =>
    helm(['install', o.release, chart, '-n', o.namespace, '--dry-run=client', '-o', 'json', ...values]),
  );
  const notes = (JSON.parse(out) as { info?: { notes?: unknown } }).info?.notes;
  if (typeof notes !== 'string') throw new Error(`helm install --dry-run printed no notes:\n${out.slice(0, 2000)}`);
  return notes;
}
