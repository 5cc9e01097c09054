// Objects, one global resourceVersion counter, per-resource event history, and the API
// server's write semantics (admission, optimistic concurrency, finalizers, status subresource).
import { randomUUID } from 'node:crypto';
import { CRD_FINALIZER, customResourceType } from './crd.js';
import { alreadyExists, badRequest, conflict, fieldError, invalid, notFound, StatusError } from './errors.js';
import { clone, deepEqual, isObj, type KubeObject, type Obj } from './json.js';
import { decodeObject, validateMeta } from './metadata.js';
import { jsonPatch, mergePatch } from './patch.js';
import { apiVersionOf, typeKey, type Registry, type ResourceType, type Target } from './resource-type.js';
import { objectFilter } from './selectors.js';

export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  /** The object before this change, so a watch can tell when it stopped matching a selector. */
  prev?: KubeObject;
  rv: number;
}
export interface Listener {
  event(e: StoreEvent): void;
  close(): void;
}
interface History {
  events: StoreEvent[];
  /** Events at or below this resourceVersion are forgotten. */
  floor: number;
  listeners: Set<Listener>;
}
export interface WriteOptions {
  /** `?fieldValidation=Strict`: unknown fields are a 400 instead of being pruned. */
  strict?: boolean;
  subresource?: 'status';
}
export interface WriteResult {
  object: KubeObject;
  /** `unknown field "spec.x"` warnings, as the API server sends by default (fieldValidation=Warn). */
  warnings: string[];
}
export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

const JSON_PATCH = 'application/json-patch+json';
const MERGE = 'application/merge-patch+json';
const STRATEGIC = 'application/strategic-merge-patch+json';
// Fields of metadata only the server sets.
const SYSTEM_META = ['name', 'namespace', 'uid', 'creationTimestamp', 'generation', 'resourceVersion'];
const DELETION_META = ['deletionTimestamp', 'deletionGracePeriodSeconds'];
const MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again';
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const keyOf = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/` : '') + o.metadata.name;
const isType = (rt: ResourceType | undefined, plural: string): boolean => !!rt?.builtin && rt.plural === plural;

/** The object without what never counts as a change of its content (for generation). */
function content(o: KubeObject, withStatus: boolean): Obj {
  const { metadata: _m, apiVersion: _a, kind: _k, status, ...rest } = o;
  return withStatus && status !== undefined ? { ...rest, status } : rest;
}

export class Store {
  private rv = 0;
  private compactedAt = 0;
  private readonly buckets = new Map<string, Map<string, KubeObject>>();
  private readonly histories = new Map<string, History>();

  constructor(
    readonly registry: Registry,
    private readonly historySize: number,
  ) {}

  get resourceVersion(): string {
    return String(this.rv);
  }

  private bucket(rt: ResourceType): Map<string, KubeObject> {
    const key = typeKey(rt.group, rt.plural);
    if (!this.buckets.has(key)) this.buckets.set(key, new Map());
    return this.buckets.get(key) as Map<string, KubeObject>;
  }

  private history(rt: ResourceType): History {
    const key = typeKey(rt.group, rt.plural);
    // A type without a history has had no events since the last compaction.
    if (!this.histories.has(key))
      this.histories.set(key, { events: [], floor: this.compactedAt, listeners: new Set() });
    return this.histories.get(key) as History;
  }

  private found(rt: ResourceType | undefined, ns: string | undefined, name: string): KubeObject | undefined {
    return rt && this.bucket(rt).get(rt.namespaced ? `${ns}/${name}` : name);
  }

  private existing({ rt, ns, name = '' }: Target): KubeObject {
    const o = this.found(rt, ns, name);
    if (!o) throw notFound(rt.plural, rt.group, name);
    return o;
  }

  private builtin(plural: string): ResourceType | undefined {
    return this.registry.all().find((rt) => isType(rt, plural));
  }

  /** A copy of a stored object as served in `version`. */
  present({ rt, version }: Target, o: KubeObject): KubeObject {
    const { apiVersion: _a, kind: _k, ...rest } = clone(o);
    return { apiVersion: apiVersionOf(rt.group, version), kind: rt.kind, ...rest };
  }

  get(t: Target): KubeObject {
    return this.present(t, this.existing(t));
  }

  list(t: Target, opts: ListOptions = {}): Obj {
    const { rt, version, ns } = t;
    const matches = objectFilter(rt, opts.labelSelector, opts.fieldSelector);
    let listRv = this.rv;
    let items = [...this.bucket(rt).values()]
      .filter((o) => (ns === undefined || o.metadata.namespace === ns) && matches(o))
      .sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      if (token.rv < this.compactedAt) {
        throw new StatusError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      listRv = token.rv;
      items = items.filter((o) => keyOf(o) > token.start);
    }
    const metadata: Obj = { resourceVersion: String(listRv) };
    const last = opts.limit && items.length > opts.limit ? items[opts.limit - 1] : undefined;
    if (last && opts.limit) {
      metadata.remainingItemCount = items.length - opts.limit;
      items = items.slice(0, opts.limit);
      const token = { v: 'meta.k8s.io/v1', rv: listRv, start: keyOf(last) };
      metadata.continue = Buffer.from(JSON.stringify(token)).toString('base64');
    }
    const shown = items.map((o) => {
      const { kind, apiVersion, ...rest } = this.present(t, o);
      // Built-in lists carry kind/apiVersion once, on the list; custom resources keep them per item.
      return rt.builtin ? rest : { kind, apiVersion, ...rest };
    });
    return { kind: rt.listKind, apiVersion: apiVersionOf(rt.group, version), metadata, items: shown };
  }

  /** Checks a request body against the URL it was sent to; returns it normalised for storage. */
  private decode({ rt, version, ns }: Target, body: unknown): KubeObject {
    const obj = clone(decodeObject(body));
    const expected = apiVersionOf(rt.group, version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`,
      );
    }
    if (obj.kind !== undefined && obj.kind !== rt.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${rt.kind})`);
    }
    if (rt.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = rt.namespaced ? ns : undefined;
    return { ...obj, apiVersion: apiVersionOf(rt.group, rt.storageVersion), kind: rt.kind };
  }

  /** Runs the type's admission: 400 for unknown fields under Strict, 422 for invalid ones. */
  private admit({ rt, version }: Target, obj: KubeObject, old: KubeObject | undefined, opts: WriteOptions): string[] {
    const { errors, unknown } = rt.admit(obj, { version, old });
    const warnings = unknown.map((f) => `unknown field "${f}"`);
    if (opts.strict && warnings.length) {
      throw badRequest(
        `${rt.kind} in version "${version}" cannot be handled as a ${rt.kind}: strict decoding error: ${warnings.join(', ')}`,
      );
    }
    const all = [...validateMeta(obj, isType(rt, 'namespaces')), ...errors];
    if (all.length) throw invalid(rt.kind, rt.group, obj.metadata.name ?? '', all);
    return warnings;
  }

  /** Admission's namespace lifecycle: the namespace must exist and not be terminating. */
  private checkNamespace(rt: ResourceType, ns = ''): void {
    const namespace = rt.namespaced ? this.found(this.builtin('namespaces'), undefined, ns) : undefined;
    if (rt.namespaced && !namespace) throw notFound('namespaces', '', ns);
    if (namespace?.metadata.deletionTimestamp) {
      throw new StatusError(
        403,
        'Forbidden',
        `unable to create new content in namespace ${ns} because it is being terminated`,
        {
          name: ns,
          kind: 'namespaces',
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${ns} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        },
      );
    }
  }

  create(t: Target, body: unknown, opts: WriteOptions = {}): WriteResult {
    const { rt } = t;
    const obj = this.decode(t, body);
    const meta = obj.metadata;
    if (meta.resourceVersion)
      throw new StatusError(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomUUID().slice(0, 5);
    if (!meta.name)
      throw invalid(rt.kind, rt.group, '', [fieldError.required('metadata.name', 'name or generateName is required')]);
    this.checkNamespace(rt, t.ns);
    if (!rt.builtin && this.crdOf(rt)?.metadata.deletionTimestamp) {
      throw new StatusError(
        405,
        'MethodNotAllowed',
        'create not allowed while custom resource definition is terminating',
      );
    }
    for (const key of DELETION_META) delete meta[key];
    Object.assign(meta, { uid: randomUUID(), creationTimestamp: now(), generation: 1 });
    const warnings = this.admit(t, obj, undefined, opts);
    if (this.found(rt, t.ns, meta.name)) throw alreadyExists(rt.plural, rt.group, meta.name);
    this.commit(rt, obj, 'ADDED');
    return { object: this.present(t, obj), warnings };
  }

  update(t: Target, body: unknown, opts: WriteOptions = {}): WriteResult {
    const obj = this.decode(t, body);
    if (obj.metadata.name !== t.name) {
      throw badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${t.name})`,
      );
    }
    const old = this.existing(t);
    if (!obj.metadata.resourceVersion && !t.rt.unconditionalUpdate) {
      throw invalid(t.rt.kind, t.rt.group, t.name ?? '', [
        fieldError.invalid('metadata.resourceVersion', '0x0', 'must be specified for an update'),
      ]);
    }
    return this.replace(t, old, obj, opts);
  }

  patch(t: Target, contentType: string, patch: unknown, opts: WriteOptions = {}): WriteResult {
    const old = this.existing(t);
    const current = this.present(t, old);
    // Strategic merge patch needs Go struct tags; for built-ins a merge patch is close enough.
    const type = contentType === STRATEGIC && t.rt.builtin ? MERGE : contentType;
    if (type !== JSON_PATCH && type !== MERGE) {
      const accepted = [JSON_PATCH, MERGE, ...(t.rt.builtin ? [STRATEGIC] : [])];
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
      );
    }
    if (type === MERGE && !isObj(patch)) throw badRequest('a merge patch must be a JSON object');
    const obj = this.decode(t, type === JSON_PATCH ? jsonPatch(current, patch) : mergePatch(current, patch));
    if (obj.metadata.name !== t.name)
      throw badRequest(`metadata.name: Invalid value: "${obj.metadata.name}": field is immutable`);
    return this.replace(t, old, obj, opts);
  }

  /** The common tail of PUT and PATCH: `obj` replaces `old` (or only its status). */
  private replace(t: Target, old: KubeObject, obj: KubeObject, opts: WriteOptions): WriteResult {
    const { rt } = t;
    const name = old.metadata.name ?? '';
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) throw conflict(rt.plural, rt.group, name, MODIFIED);
    const hasStatus = rt.statusVersions.has(t.version);
    // Each endpoint of a type with a status subresource writes only its own part.
    const next = opts.subresource === 'status' ? { ...clone(old), status: obj.status } : obj;
    if (hasStatus && !opts.subresource) next.status = clone(old.status);
    if (next.status === undefined) delete next.status;
    const meta = next.metadata;
    for (const key of [...SYSTEM_META, ...DELETION_META]) meta[key] = old.metadata[key];
    if (!meta.finalizers?.length) delete meta.finalizers;
    const added = (meta.finalizers ?? []).filter((f) => !old.metadata.finalizers?.includes(f));
    if (old.metadata.deletionTimestamp && added.length) {
      const found = added.map((f) => JSON.stringify(f)).join(', ');
      throw invalid(rt.kind, rt.group, name, [
        fieldError.forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${found}}`,
        ),
      ]);
    }
    const warnings = this.admit(t, next, clone(old), opts);
    if (!deepEqual(content(next, !hasStatus), content(old, !hasStatus)))
      meta.generation = (old.metadata.generation ?? 0) + 1;
    if (deepEqual(next, old)) return { object: this.present(t, old), warnings };
    this.commit(rt, next, 'MODIFIED', old);
    if (meta.deletionTimestamp) this.finish(rt, next);
    return { object: this.present(t, next), warnings };
  }

  /** DELETE: at once without finalizers; otherwise marked, and removed when they are gone. */
  delete(t: Target, pre: { uid?: string; resourceVersion?: string } = {}): Obj {
    const { rt } = t;
    const old = this.existing(t);
    const name = old.metadata.name ?? '';
    for (const [what, key] of [
      ['UID', 'uid'],
      ['ResourceVersion', 'resourceVersion'],
    ] as const) {
      if (pre[key] && pre[key] !== old.metadata[key]) {
        throw conflict(
          rt.plural,
          rt.group,
          name,
          `Precondition failed: ${what} in precondition: ${pre[key]}, ${what} in object meta: ${old.metadata[key]}`,
        );
      }
    }
    if (old.metadata.deletionTimestamp) return this.present(t, old);
    const namespace = isType(rt, 'namespaces');
    if (old.metadata.finalizers?.length || namespace) {
      const marked = clone(old);
      Object.assign(marked.metadata, { deletionTimestamp: now(), deletionGracePeriodSeconds: 0 });
      if (namespace) marked.status = { ...(isObj(marked.status) ? marked.status : {}), phase: 'Terminating' };
      this.commit(rt, marked, 'MODIFIED', old);
      for (const [ct, child] of this.contents(rt, marked))
        this.delete({ rt: ct, version: ct.storageVersion, ns: child.metadata.namespace, name: child.metadata.name });
      this.finish(rt, marked);
      return this.present(t, marked);
    }
    this.remove(rt, clone(old));
    if (rt.returnsDeleted) return this.present(t, old);
    const details = { name, group: rt.group, kind: rt.plural, uid: old.metadata.uid };
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
  }

  deleteCollection(t: Target, opts: ListOptions): Obj {
    const list = this.list(t, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
    for (const o of list.items as KubeObject[]) this.delete({ ...t, ns: o.metadata.namespace, name: o.metadata.name });
    return list;
  }

  private crdOf(rt: ResourceType): KubeObject | undefined {
    return this.found(this.builtin('customresourcedefinitions'), undefined, `${rt.plural}.${rt.group}`);
  }

  private servedBy(crd: KubeObject): ResourceType | undefined {
    return this.registry.all().find((t) => !t.builtin && `${t.plural}.${t.group}` === crd.metadata.name);
  }

  /** What deleting a namespace or a CRD takes with it. */
  private contents(rt: ResourceType, parent: KubeObject): Array<[ResourceType, KubeObject]> {
    const types = isType(rt, 'namespaces')
      ? this.registry.all().filter((t) => t.namespaced)
      : isType(rt, 'customresourcedefinitions')
        ? [this.servedBy(parent)].filter((t) => t !== undefined)
        : [];
    const inside = (o: KubeObject): boolean =>
      !isType(rt, 'namespaces') || o.metadata.namespace === parent.metadata.name;
    return types.flatMap((t) =>
      [...this.bucket(t).values()].filter(inside).map((o): [ResourceType, KubeObject] => [t, o]),
    );
  }

  /**
   * An object being deleted goes once its finalizers are gone. A namespace or CRD first waits
   * for its contents to go; then the API server's own finalizer is done and removed.
   */
  private finish(rt: ResourceType | undefined, obj: KubeObject | undefined): void {
    const current = rt && obj && this.bucket(rt).get(keyOf(obj));
    if (!rt || !current?.metadata.deletionTimestamp || this.contents(rt, current).length) return;
    const next = clone(current);
    if (isType(rt, 'namespaces')) next.spec = { finalizers: [] };
    next.metadata.finalizers = current.metadata.finalizers?.filter((f) => f !== CRD_FINALIZER);
    if (!next.metadata.finalizers?.length) this.remove(rt, next);
    else if (!deepEqual(next, current)) this.commit(rt, next, 'MODIFIED', current);
  }

  private commit(rt: ResourceType, obj: KubeObject, type: StoreEvent['type'], prev?: KubeObject): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.bucket(rt).set(keyOf(obj), obj);
    this.emit(rt, { type, object: clone(obj), prev, rv: this.rv });
    if (isType(rt, 'customresourcedefinitions')) this.registry.add(customResourceType(obj));
  }

  private remove(rt: ResourceType, obj: KubeObject): void {
    const prev = this.bucket(rt).get(keyOf(obj));
    this.bucket(rt).delete(keyOf(obj));
    delete obj.metadata.finalizers;
    obj.metadata.resourceVersion = String(++this.rv);
    this.emit(rt, { type: 'DELETED', object: clone(obj), prev, rv: this.rv });
    if (isType(rt, 'customresourcedefinitions')) this.unregister(obj);
    const ns = obj.metadata.namespace;
    if (ns) this.finish(this.builtin('namespaces'), this.found(this.builtin('namespaces'), undefined, ns));
    if (!rt.builtin) this.finish(this.builtin('customresourcedefinitions'), this.crdOf(rt));
  }

  /** A deleted CRD's resource stops being served; its watches end, as on a real server. */
  private unregister(crd: KubeObject): void {
    const served = this.servedBy(crd);
    if (!served) return;
    this.registry.remove(served.group, served.plural);
    const key = typeKey(served.group, served.plural);
    for (const l of this.histories.get(key)?.listeners ?? []) l.close();
    this.histories.delete(key);
    this.buckets.delete(key);
  }

  private emit(rt: ResourceType, e: StoreEvent): void {
    const h = this.history(rt);
    h.events.push(e);
    while (h.events.length > this.historySize) h.floor = h.events.shift()?.rv ?? h.floor;
    for (const l of [...h.listeners]) l.event(e);
  }

  /**
   * Replays events after `from` (or the current objects as ADDED when `from` is undefined),
   * then follows live ones. Throws 410 Expired when `from` is older than the history kept.
   */
  watch(rt: ResourceType, from: number | undefined, listener: Listener): () => void {
    const h = this.history(rt);
    if (from !== undefined && from < h.floor) {
      throw new StatusError(410, 'Expired', `too old resource version: ${from} (${h.floor})`);
    }
    if (from === undefined)
      for (const o of this.bucket(rt).values()) listener.event({ type: 'ADDED', object: clone(o), rv: this.rv });
    else for (const e of h.events) if (e.rv > from) listener.event(e);
    h.listeners.add(listener);
    return () => h.listeners.delete(listener);
  }

  /** Forgets all history, as etcd compaction does: watches from older versions get 410. */
  compact(): void {
    this.compactedAt = this.rv;
    for (const h of this.histories.values()) [h.events, h.floor] = [[], this.rv];
  }
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (isObj(t) && typeof t.rv === 'number' && typeof t.start === 'string') return { rv: t.rv, start: t.start };
  } catch {
    // refused below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}
