// Objects, one global resourceVersion counter, per-resource event history, and the API
// server's write semantics (admission, optimistic concurrency, finalizers, status subresource).
import { randomUUID } from 'node:crypto';
import { CRD_FINALIZER, customResourceType } from './crd.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  fieldError,
  invalid,
  notFound,
  StatusError,
  type FieldError,
} from './errors.js';
import { clone, deepEqual, isObj, type KubeObject, type Obj } from './json.js';
import { decodeObject, validateMeta } from './metadata.js';
import { jsonPatch, mergePatch } from './patch.js';
import { apiVersionOf, typeKey, type Registry, type ResourceType } from './resource-type.js';
import { objectFilter } from './selectors.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent {
  type: EventType;
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
  /** Warning headers (`unknown field "spec.x"`), as the API server sends for fieldValidation=Warn. */
  warnings: string[];
}
export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}
export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';
const STRATEGIC = 'application/strategic-merge-patch+json';
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const keyOf = (o: KubeObject): string =>
  (o.metadata.namespace ? `${o.metadata.namespace}/` : '') + (o.metadata.name ?? '');

/** The object without what never counts as a change of its content. */
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
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new Map()));
    return b;
  }

  private history(rt: ResourceType): History {
    const key = typeKey(rt.group, rt.plural);
    let h = this.histories.get(key);
    // A type without a history has had no events since the last compaction.
    if (!h) this.histories.set(key, (h = { events: [], floor: this.compactedAt, listeners: new Set() }));
    return h;
  }

  private found(rt: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(rt).get(rt.namespaced ? `${ns}/${name}` : name);
  }

  private existing(rt: ResourceType, ns: string | undefined, name: string): KubeObject {
    const o = this.found(rt, ns, name);
    if (!o) throw notFound(rt.plural, rt.group, name);
    return o;
  }

  /** A copy of a stored object as served in `version`. */
  present(rt: ResourceType, version: string, o: KubeObject): KubeObject {
    return { ...clone(o), apiVersion: apiVersionOf(rt.group, version), kind: rt.kind };
  }

  get(rt: ResourceType, version: string, ns: string | undefined, name: string): KubeObject {
    return this.present(rt, version, this.existing(rt, ns, name));
  }

  list(rt: ResourceType, version: string, ns: string | undefined, opts: ListOptions = {}): Obj {
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
    if (opts.limit && opts.limit > 0 && items.length > opts.limit) {
      metadata.remainingItemCount = items.length - opts.limit;
      items = items.slice(0, opts.limit);
      const last = items[items.length - 1];
      metadata.continue = Buffer.from(
        JSON.stringify({ v: 'meta.k8s.io/v1', rv: listRv, start: last ? keyOf(last) : '' }),
      ).toString('base64');
    }
    const shown = items.map((o) => {
      const { kind, apiVersion, ...rest } = this.present(rt, version, o);
      // Built-in lists carry kind/apiVersion once, on the list; custom resources keep them per item.
      return rt.builtin ? rest : { kind, apiVersion, ...rest };
    });
    return { kind: rt.listKind, apiVersion: apiVersionOf(rt.group, version), metadata, items: shown };
  }

  /** Checks a request body against the URL it was sent to; returns it normalised for storage. */
  private decode(rt: ResourceType, version: string, ns: string | undefined, body: unknown): KubeObject {
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
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = ns;
    } else delete obj.metadata.namespace;
    obj.apiVersion = apiVersionOf(rt.group, rt.storageVersion);
    obj.kind = rt.kind;
    return obj;
  }

  /** Runs the type's admission; a 400 for unknown fields under Strict, a 422 for invalid ones. */
  private admit(
    rt: ResourceType,
    version: string,
    obj: KubeObject,
    old: KubeObject | undefined,
    opts: WriteOptions,
  ): string[] {
    const { errors, unknown } = rt.admit(obj, { version, old });
    if (opts.strict && unknown.length) {
      const fields = unknown.map((f) => `unknown field "${f}"`).join(', ');
      throw badRequest(
        `${rt.kind} in version "${version}" cannot be handled as a ${rt.kind}: strict decoding error: ${fields}`,
      );
    }
    const all: FieldError[] = [...validateMeta(obj, rt.plural === 'namespaces' && rt.group === ''), ...errors];
    if (all.length) throw invalid(rt.kind, rt.group, obj.metadata.name ?? '', all);
    return unknown.map((f) => `unknown field "${f}"`);
  }

  private checkNamespace(rt: ResourceType, ns: string | undefined): void {
    const nsType = this.registry.find('', 'v1', 'namespaces');
    if (!rt.namespaced || !nsType) return;
    const namespace = this.found(nsType, undefined, ns ?? '');
    if (!namespace) throw notFound('namespaces', '', ns ?? '');
    if (namespace.metadata.deletionTimestamp) {
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

  create(
    rt: ResourceType,
    version: string,
    ns: string | undefined,
    body: unknown,
    opts: WriteOptions = {},
  ): WriteResult {
    const obj = this.decode(rt, version, ns, body);
    const meta = obj.metadata;
    if (meta.resourceVersion)
      throw new StatusError(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomUUID().replace(/-/g, '').slice(0, 5);
    if (!meta.name)
      throw invalid(rt.kind, rt.group, '', [fieldError.required('metadata.name', 'name or generateName is required')]);
    this.checkNamespace(rt, ns);
    const crd = rt.builtin ? undefined : this.crdOf(rt);
    if (crd?.metadata.deletionTimestamp) {
      throw new StatusError(
        405,
        'MethodNotAllowed',
        'create not allowed while custom resource definition is terminating',
      );
    }
    Object.assign(meta, { uid: randomUUID(), creationTimestamp: now(), generation: 1 });
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    const warnings = this.admit(rt, version, obj, undefined, opts);
    if (this.found(rt, ns, meta.name)) throw alreadyExists(rt.plural, rt.group, meta.name);
    this.commit(rt, obj, 'ADDED');
    return { object: this.present(rt, version, obj), warnings };
  }

  update(
    rt: ResourceType,
    version: string,
    ns: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): WriteResult {
    const obj = this.decode(rt, version, ns, body);
    if (obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    }
    const old = this.existing(rt, ns, name);
    if (!obj.metadata.resourceVersion && !rt.unconditionalUpdate) {
      throw invalid(rt.kind, rt.group, name, [
        fieldError.invalid('metadata.resourceVersion', '0x0', 'must be specified for an update'),
      ]);
    }
    return this.replace(rt, version, old, obj, opts);
  }

  patch(
    rt: ResourceType,
    version: string,
    ns: string | undefined,
    name: string,
    contentType: string,
    patch: unknown,
    opts: WriteOptions = {},
  ): WriteResult {
    const old = this.existing(rt, ns, name);
    const current = this.present(rt, version, old);
    let patched: unknown;
    if (contentType === JSON_PATCH) patched = jsonPatch(current, patch);
    else if (contentType === MERGE || (contentType === STRATEGIC && rt.builtin)) {
      if (!isObj(patch)) throw badRequest('merge patch must be a JSON object');
      patched = mergePatch(current, patch);
    } else {
      const accepted = rt.builtin ? [JSON_PATCH, MERGE, STRATEGIC] : [JSON_PATCH, MERGE];
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
      );
    }
    const obj = this.decode(rt, version, ns, patched);
    if (obj.metadata.name !== name)
      throw badRequest(`metadata.name: Invalid value: "${obj.metadata.name ?? ''}": field is immutable`);
    return this.replace(rt, version, old, obj, opts);
  }

  /** The common tail of PUT and PATCH: `obj` replaces `old` (or only its status). */
  private replace(
    rt: ResourceType,
    version: string,
    old: KubeObject,
    obj: KubeObject,
    opts: WriteOptions,
  ): WriteResult {
    const name = old.metadata.name ?? '';
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) {
      throw conflict(
        rt.plural,
        rt.group,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    const hasStatus = rt.statusVersions.has(version);
    let next = obj;
    if (opts.subresource === 'status') {
      next = clone(old);
      if (obj.status === undefined) delete next.status;
      else next.status = obj.status;
    } else if (hasStatus) {
      if (old.status === undefined) delete next.status;
      else next.status = clone(old.status);
    }
    const meta = next.metadata;
    for (const key of [
      'name',
      'namespace',
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'resourceVersion',
    ]) {
      if (old.metadata[key] === undefined) delete meta[key];
      else meta[key] = old.metadata[key];
    }
    if (meta.finalizers?.length === 0) delete meta.finalizers;
    const added = (meta.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
    if (old.metadata.deletionTimestamp && added.length) {
      throw invalid(rt.kind, rt.group, name, [
        fieldError.forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      ]);
    }
    const warnings = this.admit(rt, version, next, clone(old), opts);
    if (!deepEqual(content(next, !hasStatus), content(old, !hasStatus)))
      meta.generation = (old.metadata.generation ?? 0) + 1;
    if (deepEqual(next, old)) return { object: this.present(rt, version, old), warnings };
    if (meta.deletionTimestamp && !meta.finalizers?.length) this.remove(rt, next);
    else this.commit(rt, next, 'MODIFIED', old);
    return { object: this.present(rt, version, next), warnings };
  }

  /** DELETE: at once without finalizers; otherwise marked, and removed when they are gone. */
  delete(rt: ResourceType, version: string, ns: string | undefined, name: string, pre: Preconditions = {}): Obj {
    const old = this.existing(rt, ns, name);
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw conflict(
        rt.plural,
        rt.group,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        rt.plural,
        rt.group,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    if (old.metadata.deletionTimestamp) return this.present(rt, version, old);
    const cleansUp = this.isType(rt, '', 'namespaces');
    if (old.metadata.finalizers?.length || cleansUp) {
      const marked = clone(old);
      Object.assign(marked.metadata, { deletionTimestamp: now(), deletionGracePeriodSeconds: 0 });
      if (cleansUp) marked.status = { ...(isObj(marked.status) ? marked.status : {}), phase: 'Terminating' };
      this.commit(rt, marked, 'MODIFIED', old);
      this.deleteContents(rt, marked);
      this.finish(rt, name);
      return this.present(rt, version, marked);
    }
    this.remove(rt, clone(old));
    if (rt.returnsDeleted) return this.present(rt, version, old);
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: rt.group, kind: rt.plural, uid: old.metadata.uid },
    };
  }

  deleteCollection(rt: ResourceType, version: string, ns: string | undefined, opts: ListOptions): Obj {
    const list = this.list(rt, version, ns, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
    const items = Array.isArray(list.items) ? (list.items as KubeObject[]) : [];
    for (const item of items) this.delete(rt, version, item.metadata.namespace, item.metadata.name ?? '');
    return list;
  }

  private isType(rt: ResourceType, group: string, plural: string): boolean {
    return rt.builtin && rt.group === group && rt.plural === plural;
  }

  private crdOf(rt: ResourceType): KubeObject | undefined {
    const crdType = this.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    return crdType && this.found(crdType, undefined, `${rt.plural}.${rt.group}`);
  }

  /** What deleting a namespace or a CRD takes with it. */
  private contents(rt: ResourceType, parent: KubeObject): Array<[ResourceType, KubeObject]> {
    const name = parent.metadata.name ?? '';
    if (this.isType(rt, '', 'namespaces')) {
      return this.registry
        .all()
        .filter((t) => t.namespaced)
        .flatMap((t) =>
          [...this.bucket(t).values()]
            .filter((o) => o.metadata.namespace === name)
            .map((o): [ResourceType, KubeObject] => [t, o]),
        );
    }
    if (this.isType(rt, 'apiextensions.k8s.io', 'customresourcedefinitions')) {
      const served = this.registry.all().find((t) => !t.builtin && `${t.plural}.${t.group}` === name);
      return served ? [...this.bucket(served).values()].map((o): [ResourceType, KubeObject] => [served, o]) : [];
    }
    return [];
  }

  private deleteContents(rt: ResourceType, parent: KubeObject): void {
    for (const [t, o] of this.contents(rt, parent))
      this.delete(t, t.storageVersion, o.metadata.namespace, o.metadata.name ?? '');
  }

  /** Once a deleted namespace or CRD is empty, its own finalizer is done: remove it. */
  private finish(rt: ResourceType | undefined, name: string): void {
    const parent = rt && this.found(rt, undefined, name);
    if (!rt || !parent?.metadata.deletionTimestamp || this.contents(rt, parent).length) return;
    const next = clone(parent);
    if (this.isType(rt, '', 'namespaces')) next.spec = { finalizers: [] };
    const finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== CRD_FINALIZER);
    if (finalizers.length) next.metadata.finalizers = finalizers;
    else delete next.metadata.finalizers;
    if (!finalizers.length) this.remove(rt, next);
    else if (!deepEqual(next, parent)) this.commit(rt, next, 'MODIFIED', parent);
  }

  private commit(rt: ResourceType, obj: KubeObject, type: EventType, prev?: KubeObject): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.bucket(rt).set(keyOf(obj), obj);
    this.emit(rt, { type, object: clone(obj), prev, rv: this.rv });
    if (this.isType(rt, 'apiextensions.k8s.io', 'customresourcedefinitions'))
      this.registry.add(customResourceType(obj));
  }

  private remove(rt: ResourceType, obj: KubeObject): void {
    const prev = this.bucket(rt).get(keyOf(obj));
    this.bucket(rt).delete(keyOf(obj));
    obj.metadata.resourceVersion = String(++this.rv);
    this.emit(rt, { type: 'DELETED', object: clone(obj), prev, rv: this.rv });
    if (this.isType(rt, 'apiextensions.k8s.io', 'customresourcedefinitions')) this.unregister(obj);
    if (obj.metadata.namespace) this.finish(this.registry.find('', 'v1', 'namespaces'), obj.metadata.namespace);
    if (!rt.builtin)
      this.finish(
        this.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'),
        `${rt.plural}.${rt.group}`,
      );
  }

  /** A deleted CRD's resource stops being served; its watches end, as on a real server. */
  private unregister(crd: KubeObject): void {
    const served = this.registry.all().find((t) => !t.builtin && `${t.plural}.${t.group}` === crd.metadata.name);
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
    if (from === undefined) {
      for (const o of this.bucket(rt).values()) listener.event({ type: 'ADDED', object: clone(o), rv: this.rv });
    } else if (from < h.floor) {
      throw new StatusError(410, 'Expired', `too old resource version: ${from} (${h.floor})`);
    } else {
      for (const e of h.events) if (e.rv > from) listener.event(e);
    }
    h.listeners.add(listener);
    return () => h.listeners.delete(listener);
  }

  /** Forgets all history, as etcd compaction does: watches from older versions get 410. */
  compact(): void {
    this.compactedAt = this.rv;
    for (const h of this.histories.values()) {
      h.events = [];
      h.floor = this.rv;
    }
  }
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (isObj(t) && typeof t.rv === 'number' && typeof t.start === 'string') return { rv: t.rv, start: t.start };
  } catch {
    // fall through to the refusal below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}
