// Rendered files into Kubernetes objects the way Helm splits them: documents separated by `---`
// lines, empty ones dropped, each parsed as YAML 1.1 (what the API server's decoder speaks),
// then ordered by kind as `helm template` prints them.
import { ManifestError } from './errors.js';
import { parseYaml } from './funcs/encoding.js';
import { compareKinds } from './install-order.js';
import { isMap, type GoMap } from './values.js';

export interface Manifest {
  /** The template it came from: `retrace/templates/agent-daemonset.yaml`. */
  source: string;
  /** The document's text, as rendered. */
  text: string;
  /** The parsed object. */
  object: GoMap & { apiVersion: string; kind: string; metadata: GoMap & { name: string } };
}

const SEPARATOR = /(?:^|\s*\n)---\s*/;

export function splitManifests(source: string, rendered: string): Manifest[] {
  const out: Manifest[] = [];
  for (const [i, raw] of rendered.trim().split(SEPARATOR).entries()) {
    const text = raw.trim();
    if (!text) continue;
    let obj: unknown;
    try {
      obj = parseYaml(text);
    } catch (e) {
      throw new ManifestError(source, `document ${i + 1} is not YAML: ${(e as Error).message}\n${text}`);
    }
    if (obj === null || obj === undefined) continue; // only comments
    if (!isMap(obj)) throw new ManifestError(source, `document ${i + 1} is not an object:\n${text}`);
    const meta = obj['metadata'];
    if (typeof obj['apiVersion'] !== 'string' || typeof obj['kind'] !== 'string')
      throw new ManifestError(source, `document ${i + 1} has no apiVersion or kind:\n${text}`);
    if (!isMap(meta) || typeof meta['name'] !== 'string' || !meta['name'])
      throw new ManifestError(source, `document ${i + 1} (${obj['kind']}) has no metadata.name`);
    out.push({ source, text, object: obj as Manifest['object'] });
  }
  return out;
}

/** Stable: documents of the same kind keep their template order. */
export function sortByKind(ms: Manifest[]): Manifest[] {
  return ms
    .map((m, i) => ({ m, i }))
    .sort((a, b) => compareKinds(a.m.object.kind, b.m.object.kind) || a.i - b.i)
    .map(({ m }) => m);
}

/** What `helm template` prints. */
export function printManifests(ms: Manifest[]): string {
  return ms.map((m) => `---\n# Source: ${m.source}\n${m.text}\n`).join('');
}
