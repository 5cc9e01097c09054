// `helm template` without Helm: a chart folder and values in, the manifests out. Loads
// Chart.yaml, values.yaml and values.schema.json, coalesces the given values over the defaults,
// validates them, checks kubeVersion, renders templates/ (partials `_*` are parsed for their
// defines, not printed), then splits and orders the documents.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Engine } from './engine.js';
import { ChartValueError, ValuesSchemaError } from './errors.js';
import { parseYaml } from './funcs/encoding.js';
import { semverCompare } from './funcs/semver.js';
import { baseFuncs } from './funcs/index.js';
import { filesObject, globToRegExp } from './files.js';
import { helmFuncs } from './helm-funcs.js';
import { validate, type Schema } from './json-schema.js';
import { sortByKind, splitManifests, type Manifest } from './manifests.js';
import { coalesceValues } from './values-merge.js';
import { isMap, METHODS, type GoMap, type WithMethods } from './values.js';

export interface RenderOptions {
  /** Values over the chart's defaults, in order (like repeated -f). */
  values?: GoMap[];
  releaseName?: string;
  namespace?: string;
  /** `--kube-version`; default v1.30.0. */
  kubeVersion?: string;
  /** `--api-versions`: what .Capabilities.APIVersions.Has answers yes to, besides the core ones. */
  apiVersions?: string[];
  /** Objects `lookup` finds (as on `helm upgrade` against a cluster); none by default. */
  cluster?: GoMap[];
  /** An upgrade rather than an install (.Release.IsUpgrade). */
  upgrade?: boolean;
}

export interface RenderResult {
  manifests: Manifest[];
  /** The values the templates saw. */
  values: GoMap;
  /** Each printed template's text, by name. */
  rendered: Map<string, string>;
  /** templates/NOTES.txt rendered, as Helm shows it after install. */
  notes?: string;
}

export interface LoadedChart {
  dir: string;
  metadata: GoMap;
  defaults: GoMap;
  schema?: Schema;
  /** templates/... relative path -> text */
  templates: Map<string, string>;
  /** other files, by path relative to the chart */
  files: Map<string, string>;
}

const CORE_APIS = [
  'v1',
  'apps/v1',
  'batch/v1',
  'rbac.authorization.k8s.io/v1',
  'coordination.k8s.io/v1',
  'apiextensions.k8s.io/v1',
  'policy/v1',
];

function walk(dir: string, base = dir): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p, base) : [relative(base, p)];
    });
}

/** .helmignore's common forms: `dir/`, names and globs (matched on the path or its last element), `#` comments. */
function ignoredBy(dir: string): (path: string) => boolean {
  const file = join(dir, '.helmignore');
  if (!existsSync(file)) return () => false;
  const rules = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return (path) =>
    rules.some((r) => {
      if (r.endsWith('/')) return path.startsWith(r) || path.includes(`/${r}`);
      const re = globToRegExp(r);
      return re.test(path) || re.test(path.split('/').pop() as string);
    });
}

export function loadChart(dir: string): LoadedChart {
  const ignored = ignoredBy(dir);
  const metadata = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8'));
  if (!isMap(metadata) || typeof metadata['name'] !== 'string') throw new Error(`${dir}/Chart.yaml: no chart name`);
  const valuesPath = join(dir, 'values.yaml');
  const defaults = existsSync(valuesPath) ? parseYaml(readFileSync(valuesPath, 'utf8')) : {};
  const schemaPath = join(dir, 'values.schema.json');
  const templates = new Map<string, string>();
  const files = new Map<string, string>();
  for (const p of walk(dir)) {
    if (ignored(p) || p === '.helmignore') continue;
    if (p.startsWith('templates/')) templates.set(p, readFileSync(join(dir, p), 'utf8'));
    else if (!['Chart.yaml', 'values.yaml', 'values.schema.json'].includes(p) && !p.startsWith('charts/'))
      files.set(p, readFileSync(join(dir, p), 'utf8'));
  }
  return {
    dir,
    metadata,
    defaults: isMap(defaults) ? defaults : {},
    ...(existsSync(schemaPath) ? { schema: JSON.parse(readFileSync(schemaPath, 'utf8')) as Schema } : {}),
    templates,
    files,
  };
}

/** Chart.yaml's keys as Helm's .Chart fields: name -> Name, appVersion -> AppVersion, apiVersion -> APIVersion. */
function chartObject(meta: GoMap): GoMap {
  const out: GoMap = {};
  for (const [k, v] of Object.entries(meta))
    out[k === 'apiVersion' ? 'APIVersion' : k[0]!.toUpperCase() + k.slice(1)] = v;
  return out;
}

/** Problems of values against the chart's schema (empty when none, or when there is no schema). */
export function validateValues(chart: LoadedChart, values: GoMap): string[] {
  return chart.schema === undefined ? [] : validate(chart.schema, values);
}

export function renderChart(chartOrDir: string | LoadedChart, opts: RenderOptions = {}): RenderResult {
  const chart = typeof chartOrDir === 'string' ? loadChart(chartOrDir) : chartOrDir;
  const name = chart.metadata['name'] as string;
  const values = coalesceValues(chart.defaults, ...(opts.values ?? []));
  const problems = validateValues(chart, values);
  if (problems.length) throw new ValuesSchemaError(problems);

  const kubeVersion = opts.kubeVersion ?? 'v1.30.0';
  const kv = /^v?(\d+)\.(\d+)/.exec(kubeVersion);
  const constraint = chart.metadata['kubeVersion'];
  if (typeof constraint === 'string' && !semverCompare(constraint, kubeVersion))
    throw new ChartValueError(
      { template: `${name}/Chart.yaml`, line: 0 },
      `chart requires kubeVersion: ${constraint} which is incompatible with Kubernetes ${kubeVersion}`,
    );
  const apis = new Set([...CORE_APIS, ...(opts.apiVersions ?? [])]);
  const apiVersions: WithMethods = { [METHODS]: { Has: (v) => typeof v === 'string' && apis.has(v) } };

  const engine = new Engine(baseFuncs);
  for (const [k, f] of Object.entries(helmFuncs(engine, opts.cluster))) engine.funcs.set(k, f);
  const templateNames = [...chart.templates.keys()].sort();
  for (const t of templateNames) engine.add(`${name}/${t}`, chart.templates.get(t) as string);

  const top = {
    Values: values,
    Release: {
      Name: opts.releaseName ?? 'retrace',
      Namespace: opts.namespace ?? 'default',
      Service: 'Helm',
      IsInstall: !opts.upgrade,
      IsUpgrade: !!opts.upgrade,
      Revision: opts.upgrade ? 2n : 1n,
    },
    Chart: chartObject(chart.metadata),
    Capabilities: {
      KubeVersion: { Version: kubeVersion, GitVersion: kubeVersion, Major: kv?.[1] ?? '1', Minor: kv?.[2] ?? '30' },
      APIVersions: apiVersions,
    },
    Files: filesObject(chart.files),
  };

  const rendered = new Map<string, string>();
  const manifests: Manifest[] = [];
  let notes: string | undefined;
  for (const t of templateNames) {
    const base = t.split('/').pop() as string;
    if (base.startsWith('_')) continue;
    const full = `${name}/${t}`;
    const data = { ...top, Template: { Name: full, BasePath: `${name}/templates` } };
    const text = engine.execute(full, data).replaceAll('<no value>', '');
    if (t === 'templates/NOTES.txt') {
      notes = text;
      continue;
    }
    rendered.set(full, text);
    manifests.push(...splitManifests(full, text));
  }
  return { manifests: sortByKind(manifests), values, rendered, ...(notes !== undefined ? { notes } : {}) };
}
