import { readdirSync } from 'node:fs';
import { BtfKind } from './constants.js';
import { BtfError, nativeCall } from './errors.js';
import { native, type NativeBtf, type NativeBtfType } from './native.js';

export interface Parameter {
  index: number;
  name: string;
  typeId: number;
  /** C type, e.g. `struct sk_buff *`. */
  type: string;
}

export interface Prototype {
  name: string;
  returnType: string;
  params: Parameter[];
  /** C prototype, e.g. `int ip_rcv(struct sk_buff *skb, struct net_device *dev, ...)`. */
  text: string;
}

/** Byte layout of a struct: what a decoder needs, read from BTF rather than kept by hand. */
export interface StructLayout {
  name: string;
  size: number;
  fields: Record<string, { offset: number; size: number; bitOffset: number; bitSize: number }>;
}

export interface Member {
  bitOffset: number;
  bitSize: number;
  typeId: number;
}

const MODIFIERS: ReadonlySet<number> = new Set([
  BtfKind.TYPEDEF,
  BtfKind.CONST,
  BtfKind.VOLATILE,
  BtfKind.RESTRICT,
  BtfKind.TYPE_TAG,
]);

/** Kernel type information (vmlinux or a module, or a BTF file), queried by name. */
export class KernelBtf {
  readonly source: string;
  private readonly n: NativeBtf;
  private static vmlinuxCache: KernelBtf | undefined;

  private constructor(n: NativeBtf, source: string) {
    this.n = n;
    this.source = source;
  }

  /** The running kernel's BTF (loaded once per process). */
  static vmlinux(): KernelBtf {
    KernelBtf.vmlinuxCache ??= new KernelBtf(
      nativeCall(
        () => new native.Btf('vmlinux'),
        (e) => new BtfError(`${e.message}; retrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y`, e),
      ),
      'vmlinux',
    );
    return KernelBtf.vmlinuxCache;
  }

  /** BTF of a loaded kernel module (split on top of vmlinux). */
  static module(name: string): KernelBtf {
    return new KernelBtf(
      nativeCall(
        () => new native.Btf('module', name),
        (e) => new BtfError(e.message, e),
      ),
      name,
    );
  }

  static file(path: string): KernelBtf {
    return new KernelBtf(
      nativeCall(
        () => new native.Btf('file', path),
        (e) => new BtfError(e.message, e),
      ),
      path,
    );
  }

  /** Names of loaded modules that carry BTF. */
  static moduleNames(): string[] {
    try {
      return readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux');
    } catch {
      return [];
    }
  }

  type(id: number): NativeBtfType {
    return nativeCall(
      () => this.n.type(id),
      (e) => new BtfError(e.message, e),
    );
  }

  /** Per kind, name -> first id with that name (libbpf's lookup scans every type each time). */
  private readonly byName = new Map<number, Map<string, number>>();

  find(name: string, kind: number): number | undefined {
    let index = this.byName.get(kind);
    if (!index) {
      const { names, ids } = nativeCall(
        () => this.n.typesOfKind(kind),
        (e) => new BtfError(e.message, e),
      );
      index = new Map();
      for (let i = names.length - 1; i >= 0; i--) index.set(names[i] as string, ids[i] as number);
      this.byName.set(kind, index);
    }
    return index.get(name);
  }

  names(kind: number): string[] {
    return this.n.namesOfKind(kind);
  }

  /** C declaration of a type, optionally naming it: decl(id, 'skb') -> `struct sk_buff *skb`. */
  resolveSize(id: number): number {
    return nativeCall(
      () => this.n.resolveSize(id),
      (e) => new BtfError(e.message, e),
    );
  }

  decl(id: number, name = ''): string {
    return nativeCall(
      () => this.n.decl(id, name),
      (e) => new BtfError(e.message, e),
    ).trim();
  }

  /** Skips typedefs and qualifiers. */
  resolve(id: number): NativeBtfType {
    let t = this.type(id);
    while (MODIFIERS.has(t.kind) && t.type !== undefined) t = this.type(t.type);
    return t;
  }

  hasFunction(name: string): boolean {
    return this.find(name, BtfKind.FUNC) !== undefined;
  }

  /** Accepts `name` or `category:name` (the category is not part of BTF). */
  hasTracepoint(name: string): boolean {
    return this.find(`btf_trace_${tracepointName(name)}`, BtfKind.TYPEDEF) !== undefined;
  }

  functionNames(): string[] {
    return this.names(BtfKind.FUNC);
  }

  /** Tracepoints with BTF (raw tracepoint / tp_btf targets), without category. */
  tracepointNames(): string[] {
    return this.names(BtfKind.TYPEDEF)
      .filter((n) => n.startsWith('btf_trace_'))
      .map((n) => n.slice('btf_trace_'.length));
  }

  private prototypeOf(name: string, protoId: number, skipFirst: boolean, names?: string[]): Prototype {
    const proto = this.type(protoId);
    const params = (proto.params ?? []).slice(skipFirst ? 1 : 0).map((p, index) => ({
      index,
      name: p.name || names?.[index] || '',
      typeId: p.type,
      type: this.decl(p.type),
    }));
    const returnType = proto.type ? this.decl(proto.type) : 'void';
    const args = params.map((p) => this.decl(p.typeId, p.name)).join(', ');
    return { name, returnType, params, text: `${returnType} ${name}(${args || 'void'})` };
  }

  functionPrototype(name: string): Prototype | undefined {
    const id = this.find(name, BtfKind.FUNC);
    if (id === undefined) return undefined;
    const fn = this.type(id);
    return fn.type === undefined ? undefined : this.prototypeOf(name, fn.type, false);
  }

  /** A tracepoint's arguments, from its `btf_trace_<name>` typedef (the leading `void *` context dropped). */
  tracepointPrototype(name: string): Prototype | undefined {
    const tp = tracepointName(name);
    const id = this.find(`btf_trace_${tp}`, BtfKind.TYPEDEF);
    if (id === undefined) return undefined;
    const ptr = this.resolve(id);
    if (ptr.kind !== BtfKind.PTR || ptr.type === undefined) return undefined;
    return this.prototypeOf(tp, ptr.type, true, this.tracepointParamNames(tp, ptr.type));
  }

  /**
   * The typedef's prototype has no parameter names; the kernel's `__bpf_trace_<event>` stub (or
   * its class template's stub, found by identical parameter types) has them.
   */
  private tracepointParamNames(tp: string, protoId: number): string[] | undefined {
    const names = (fnName: string): string[] | undefined => {
      const id = this.find(fnName, BtfKind.FUNC);
      const fn = id === undefined ? undefined : this.type(id);
      const proto = fn?.type === undefined ? undefined : this.type(fn.type);
      return proto?.params?.slice(1).map((p) => p.name);
    };
    const exact = names(`__bpf_trace_${tp}`);
    if (exact) return exact;
    const key = (this.type(protoId).params ?? []).map((p) => p.type).join(',');
    this.stubsBySignature ??= this.indexTraceStubs();
    const stub = this.stubsBySignature.get(key);
    return stub ? names(stub) : undefined;
  }

  private stubsBySignature: Map<string, string> | undefined;

  private indexTraceStubs(): Map<string, string> {
    const index = new Map<string, string>();
    for (const fnName of this.functionNames()) {
      if (!fnName.startsWith('__bpf_trace_')) continue;
      const id = this.find(fnName, BtfKind.FUNC);
      const fn = id === undefined ? undefined : this.type(id);
      const proto = fn?.type === undefined ? undefined : this.type(fn.type);
      const key = (proto?.params ?? []).map((p) => p.type).join(',');
      if (!index.has(key)) index.set(key, fnName);
    }
    return index;
  }

  /** The first parameter that is a `struct sk_buff *` (what retrace's probes read). */
  skbParameter(proto: Prototype): Parameter | undefined {
    return proto.params.find((p) => this.isPointerToStruct(p.typeId, 'sk_buff'));
  }

  isPointerToStruct(typeId: number, struct: string): boolean {
    const t = this.resolve(typeId);
    if (t.kind !== BtfKind.PTR || t.type === undefined) return false;
    const target = this.resolve(t.type);
    return target.kind === BtfKind.STRUCT && target.name === struct;
  }

  /** Values of an enum (ENUM or ENUM64) by name, e.g. enumValues('skb_drop_reason'). */
  enumValues(name: string): Map<string, bigint> | undefined {
    const id = this.find(name, BtfKind.ENUM) ?? this.find(name, BtfKind.ENUM64);
    if (id === undefined) return undefined;
    return new Map((this.type(id).values ?? []).map((v) => [v.name, BigInt(v.value)]));
  }

  /**
   * Offset of `a.b.c` inside a struct, looking through anonymous unions/structs and nested
   * (not pointed-to) structs.
   */
  memberOffset(struct: string, path: string): Member | undefined {
    const id = this.find(struct, BtfKind.STRUCT) ?? this.find(struct, BtfKind.UNION);
    if (id === undefined) return undefined;
    let typeId = id;
    let bitOffset = 0;
    let found: Member | undefined;
    for (const part of path.split('.')) {
      const m = this.findMember(typeId, part);
      if (!m) return undefined;
      bitOffset += m.bitOffset;
      found = { bitOffset, bitSize: m.bitSize, typeId: m.typeId };
      typeId = m.typeId;
    }
    return found;
  }

  /** Top-level members of a struct with byte offsets and sizes (e.g. an event record in an object's BTF). */
  structLayout(struct: string): StructLayout | undefined {
    const id = this.find(struct, BtfKind.STRUCT);
    if (id === undefined) return undefined;
    const t = this.type(id);
    const fields: StructLayout['fields'] = {};
    for (const m of t.members ?? [])
      fields[m.name] = {
        offset: Math.floor(m.bitOffset / 8),
        size: m.bitSize ? 0 : this.resolveSize(m.type),
        bitOffset: m.bitOffset,
        bitSize: m.bitSize,
      };
    return { name: struct, size: t.size ?? 0, fields };
  }

  /** A member of a struct or union (looking through anonymous members), by type id. */
  member(typeId: number, name: string): Member | undefined {
    return this.findMember(typeId, name);
  }

  /** Names of a struct's members, anonymous members flattened (for "did you mean"). */
  memberNames(typeId: number): string[] {
    const t = this.resolve(typeId);
    return (t.members ?? []).flatMap((m) => (m.name === '' ? this.memberNames(m.type) : [m.name]));
  }

  private findMember(typeId: number, name: string): Member | undefined {
    const t = this.resolve(typeId);
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) return undefined;
    for (const m of t.members ?? []) {
      if (m.name === name) return { bitOffset: m.bitOffset, bitSize: m.bitSize, typeId: m.type };
      if (m.name === '') {
        const inner = this.findMember(m.type, name);
        if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
      }
    }
    return undefined;
  }

  close(): void {
    if (this === KernelBtf.vmlinuxCache) KernelBtf.vmlinuxCache = undefined;
    this.n.close();
  }
}

/** `net:netif_receive_skb` -> `netif_receive_skb`. */
export function tracepointName(name: string): string {
  const i = name.indexOf(':');
  return i >= 0 ? name.slice(i + 1) : name;
}
