// What `helm template` prints, as Kubernetes objects: documents split where Helm splits them
// (releaseutil.SplitManifests), each parsed as YAML 1.1 (what the API server's decoder speaks),
// with the template it came from (helm's `# Source:` line).
import { parse } from 'yaml';

export type KubeMap = Record<string, unknown>;

export interface Manifest {
  /** The template it came from: `retrace/templates/agent-daemonset.yaml`. */
  source: string;
  /** The document's text, as rendered. */
  text: string;
  /** The parsed object. */
  object: KubeMap & { apiVersion: string; kind: string; metadata: KubeMap & { name: string } };
}

const SEPARATOR = /(?:^|\s*\n)---\s*/;
const isMap = (v: unknown): v is KubeMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses YAML as the API server reads it (1.1: `yes` and `on` are booleans). */
export const parseYaml = (text: string): unknown => parse(text, { version: '1.1' });

/** The objects of a `helm template` output, in its order; every one must have apiVersion, kind and a name. */
export function splitManifests(output: string): Manifest[] {
  const out: Manifest[] = [];
  for (const [i, raw] of output.trim().split(SEPARATOR).entries()) {
    const text = raw.trim();
    if (!text) continue;
    const source = /^# Source: (.+)$/m.exec(text)?.[1] ?? '';
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new Error(`document ${i + 1} (${source}) is not YAML: ${(e as Error).message}\n${text}`);
    }
    if (doc === null || doc === undefined) continue; // only comments
    if (!isMap(doc)) throw new Error(`document ${i + 1} (${source}) is not an object:\n${text}`);
    const meta = doc['metadata'];
    if (typeof doc['apiVersion'] !== 'string' || typeof doc['kind'] !== 'string')
      throw new Error(`document ${i + 1} (${source}) has no apiVersion or kind:\n${text}`);
    if (!isMap(meta) || typeof meta['name'] !== 'string' || !meta['name'])
      throw new Error(`document ${i + 1} (${source}, ${doc['kind']}) has no metadata.name`);
    out.push({ source, text, object: doc as Manifest['object'] });
  }
  return out;
}
