import { basename } from 'node:path';
import { ProgType } from './constants.js';
import { LoadError, ObjectError, nativeCall } from './errors.js';
import { BpfMap } from './map.js';
import { native, type NativeBpfObject, type NativeDatasecVar } from './native.js';
import { Program } from './program.js';

export interface ProgramInfo {
  name: string;
  section: string;
  type: number;
  typeName: string;
  autoload: boolean;
  insnCount: number;
}

export type GlobalValue = Buffer | number | bigint | boolean;

/**
 * A BPF ELF object. Lifecycle: open -> configure (globals, autoload, attach targets,
 * instructions, map sizes) -> load -> attach programs / use maps -> close.
 * close() detaches every link of the object and frees its programs and maps.
 */
export class BpfObject {
  readonly name: string;
  private n: NativeBpfObject | null;
  private loadedFlag = false;

  private constructor(n: NativeBpfObject, name: string) {
    this.n = n;
    this.name = name;
  }

  /** Opens an object from a file path or an in-memory ELF image. */
  static open(source: string | Buffer, opts: { name?: string } = {}): BpfObject {
    const name = opts.name ?? (typeof source === 'string' ? basename(source).replace(/\.bpf\.o$|\.o$/, '') : 'object');
    const n = nativeCall(
      () => new native.BpfObject(source, opts.name),
      (e) =>
        new ObjectError(
          `opening BPF object ${typeof source === 'string' ? source : name} failed: ${e.message}` +
            (e.code === 'ENOENT' ? '; run `make build` to compile bpf/' : ''),
          e,
        ),
    );
    return new BpfObject(n, name);
  }

  private get live(): NativeBpfObject {
    if (!this.n) throw new ObjectError(`BPF object ${this.name} is closed`);
    return this.n;
  }

  get loaded(): boolean {
    return this.loadedFlag;
  }

  programs(): ProgramInfo[] {
    return this.live.programs().map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type,
      typeName: ProgType[p.type] ?? `type ${p.type}`,
      autoload: p.autoload,
      insnCount: p.insnCount,
    }));
  }

  program(name: string): Program {
    if (!this.live.programs().some((p) => p.name === name))
      throw new ObjectError(
        `no program named '${name}' in ${this.name}; it has: ${this.live
          .programs()
          .map((p) => p.name)
          .join(', ')}`,
      );
    return new Program(this.live, this.name, name);
  }

  /** Loads only the named programs (the others get autoload off). */
  loadOnly(names: string[]): void {
    for (const p of this.live.programs()) this.live.setAutoload(p.name, names.includes(p.name));
    this.load();
  }

  /** Variables of the object's data sections (.rodata holds `const volatile` settings). */
  globals(): NativeDatasecVar[] {
    return this.live.datasecVars();
  }

  /** Sets a global before load; numbers are written little-endian in the variable's size. */
  setGlobal(name: string, value: GlobalValue): void {
    if (this.loadedFlag) throw new ObjectError(`${this.name}: globals are fixed once loaded (set ${name} before load)`);
    const vars = this.globals().filter((v) => v.name === name);
    const v = vars.find((x) => x.section.startsWith('.rodata')) ?? vars[0];
    if (!v)
      throw new ObjectError(
        `${this.name} has no global named '${name}'; it has: ${this.globals()
          .map((g) => g.name)
          .join(', ')}`,
      );
    const bytes = encodeGlobal(name, value, v.size);
    const image = this.live.getInitialValue(v.map);
    bytes.copy(image, v.offset);
    nativeCall(
      () => this.live.setInitialValue(v.map, image),
      (e) => new ObjectError(`${this.name}: setting ${name} failed: ${e.message}`, e),
    );
  }

  /** Current value of a global of a writable section (.bss, .data) after load. */
  readGlobal(name: string): Buffer {
    const v = this.globals().find((x) => x.name === name);
    if (!v) throw new ObjectError(`${this.name} has no global named '${name}'`);
    const value = this.map(v.map).lookup(0);
    if (!value) throw new ObjectError(`${this.name}: section ${v.section} of ${name} cannot be read`);
    return value.subarray(v.offset, v.offset + v.size);
  }

  setGlobals(values: Record<string, GlobalValue>): void {
    for (const [k, v] of Object.entries(values)) this.setGlobal(k, v);
  }

  /** Resizes a map before load (e.g. a ring buffer: a power of two, multiple of the page size). */
  setMapMaxEntries(map: string, maxEntries: number): void {
    nativeCall(
      () => this.live.setMaxEntries(map, maxEntries),
      (e) => new ObjectError(`${this.name}: resizing map ${map} failed: ${e.message}`, e),
    );
  }

  /** Shares another object's map (by fd) instead of creating one: several loads, one set of maps. */
  reuseMap(name: string, map: { fd: number }): void {
    nativeCall(
      () => this.live.reuseMapFd(name, map.fd),
      (e) => new ObjectError(`${this.name}: reusing map ${name} failed: ${e.message}`, e),
    );
  }

  /** Loads into the kernel. A verifier refusal throws LoadError carrying the verifier log. */
  load(): void {
    nativeCall(
      () => this.live.load(),
      (e) => new LoadError(this.name, e),
    );
    this.loadedFlag = true;
  }

  map(name: string): BpfMap {
    const spec = this.live.maps().find((m) => m.name === name);
    if (!spec)
      throw new ObjectError(
        `no map named '${name}' in ${this.name}; it has: ${this.live
          .maps()
          .map((m) => m.name)
          .join(', ')}`,
      );
    if (!this.loadedFlag) throw new ObjectError(`${this.name}: map ${name} exists only after load()`);
    return new BpfMap(spec, this.live.mapFd(name));
  }

  maps(): { name: string; type: number; keySize: number; valueSize: number; maxEntries: number }[] {
    return this.live.maps();
  }

  /** Detaches every link, unloads programs and frees maps (idempotent). */
  close(): void {
    this.n?.close();
    this.n = null;
  }
}

function encodeGlobal(name: string, value: GlobalValue, size: number): Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.length > size) throw new ObjectError(`global ${name} is ${size} bytes; got ${value.length}`);
    const b = Buffer.alloc(size);
    value.copy(b);
    return b;
  }
  const b = Buffer.alloc(size);
  const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
  const bits = BigInt(size * 8);
  if (size > 8 || v >= 1n << bits || v < -(1n << (bits - 1n)))
    throw new ObjectError(`global ${name} (${size} bytes) cannot hold ${String(value)}`);
  const u = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) b[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return b;
}
