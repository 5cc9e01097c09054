// What the server knows about one resource (built in or from a CRD), and the table of them.
import type { FieldError } from './errors.js';
import type { KubeObject } from './json.js';

export interface AdmitContext {
  version: string;
  old?: KubeObject;
}

export interface Admitted {
  errors: FieldError[];
  /** Paths of fields dropped because no schema declares them (`spec.foo`). */
  unknown: string[];
}

export interface ResourceType {
  group: string;
  /** Served versions; objects are stored once and shown in the version asked for (conversion None). */
  versions: string[];
  storageVersion: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Versions with a status subresource. */
  statusVersions: ReadonlySet<string>;
  builtin: boolean;
  /** Field selectors beyond metadata.name and metadata.namespace. */
  fieldSelectors: string[];
  /** Whether PUT may omit metadata.resourceVersion (false for CRDs and custom resources). */
  unconditionalUpdate: boolean;
  /** Whether an immediate DELETE answers with the object rather than a Status. */
  returnsDeleted: boolean;
  /** Defaults and checks `obj` in place, for create (no `old`) and update. */
  admit(obj: KubeObject, ctx: AdmitContext): Admitted;
}

/** Where a request points: a type in one served version, and maybe a namespace and a name. */
export interface Target {
  rt: ResourceType;
  version: string;
  ns?: string;
  name?: string;
}

export const typeKey = (group: string, plural: string): string => `${plural}.${group}`;

export class Registry {
  private readonly types = new Map<string, ResourceType>();

  add(rt: ResourceType): void {
    this.types.set(typeKey(rt.group, rt.plural), rt);
  }

  remove(group: string, plural: string): void {
    this.types.delete(typeKey(group, plural));
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    const rt = this.types.get(typeKey(group, plural));
    return rt?.versions.includes(version) ? rt : undefined;
  }

  byKind(group: string, version: string, kind: string): ResourceType | undefined {
    return this.all().find((rt) => rt.group === group && rt.kind === kind && rt.versions.includes(version));
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }
}

/** `retrace.dev/v1` -> ['retrace.dev', 'v1']; `v1` -> ['', 'v1']. */
export function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

export const apiVersionOf = (group: string, version: string): string => (group ? `${group}/${version}` : version);
