import { MapType, PERCPU_MAP_TYPES, UpdateFlag, type UpdateFlagName } from './constants.js';
import { MapError, nativeCall } from './errors.js';
import { native } from './native.js';

export type Key = Buffer | number;

export interface MapSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** A loaded map, addressed by fd. Keys are Buffers (a number is taken as a little-endian u32). */
export class BpfMap implements MapSpec {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly fd: number;
  private readonly ownsFd: boolean;
  /** Bytes the kernel moves per element: per-CPU maps carry one 8-aligned slot per possible CPU. */
  readonly syscallValueSize: number;

  constructor(spec: MapSpec, fd: number, ownsFd = false) {
    this.name = spec.name;
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.fd = fd;
    this.ownsFd = ownsFd;
    this.syscallValueSize = this.perCpu ? roundUp8(spec.valueSize) * native.numPossibleCpus() : spec.valueSize;
  }

  /** A map of its own, outside any object (closed with close()). */
  static create(spec: MapSpec, flags = 0): BpfMap {
    const fd = nativeCall(
      () => native.mapCreate(spec.type, spec.name, spec.keySize, spec.valueSize, spec.maxEntries, flags),
      (e) => new MapError(`creating map ${spec.name} failed: ${e.message}`, e),
    );
    return new BpfMap(spec, fd, true);
  }

  get perCpu(): boolean {
    return PERCPU_MAP_TYPES.has(this.type);
  }

  get id(): number {
    return native.mapInfo(this.fd).id;
  }

  private key(k: Key): Buffer {
    if (typeof k === 'number') {
      const b = Buffer.alloc(this.keySize);
      b.writeUInt32LE(k, 0);
      return b;
    }
    if (k.length !== this.keySize)
      throw new MapError(`map ${this.name}: key is ${k.length} bytes, the map's keys are ${this.keySize}`);
    return k;
  }

  private fail(op: string): (e: { message: string }) => MapError {
    return (e) => new MapError(`map ${this.name}: ${op} failed: ${e.message}`, e);
  }

  lookup(key: Key): Buffer | null {
    return nativeCall(() => native.mapLookup(this.fd, this.key(key), this.syscallValueSize), this.fail('lookup'));
  }

  /** Per-CPU maps: one value per possible CPU. */
  lookupPerCpu(key: Key): Buffer[] | null {
    const raw = this.lookup(key);
    if (!raw) return null;
    const slot = roundUp8(this.valueSize);
    const out: Buffer[] = [];
    for (let off = 0; off < raw.length; off += slot) out.push(raw.subarray(off, off + this.valueSize));
    return out;
  }

  update(key: Key, value: Buffer, flag: UpdateFlagName = 'any'): void {
    if (value.length !== this.syscallValueSize)
      throw new MapError(`map ${this.name}: value is ${value.length} bytes, expected ${this.syscallValueSize}`);
    const flags = UpdateFlag[flag.toUpperCase() as keyof typeof UpdateFlag];
    nativeCall(() => native.mapUpdate(this.fd, this.key(key), value, flags), this.fail('update'));
  }

  /** Returns whether the key was present. */
  delete(key: Key): boolean {
    return nativeCall(() => native.mapDelete(this.fd, this.key(key)), this.fail('delete'));
  }

  *keys(): Generator<Buffer> {
    let k: Buffer | null = null;
    for (;;) {
      const cur: Buffer | null = k;
      k = nativeCall(() => native.mapNextKey(this.fd, cur, this.keySize), this.fail('iteration'));
      if (!k) return;
      yield k;
    }
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v]; // an entry deleted meanwhile is skipped
    }
  }

  /**
   * Reads the whole map with BPF_MAP_LOOKUP_BATCH (optionally deleting what it read), falling
   * back to element-wise iteration on kernels or map types without batch support.
   */
  lookupAll(opts: { deleteRead?: boolean; batchSize?: number } = {}): [Buffer, Buffer][] {
    const batchSize = opts.batchSize ?? 256;
    const out: [Buffer, Buffer][] = [];
    let token: Buffer | null = null;
    try {
      for (;;) {
        const cur: Buffer | null = token;
        const r = native.mapLookupBatch(
          this.fd,
          cur,
          this.keySize,
          this.syscallValueSize,
          batchSize,
          !!opts.deleteRead,
        );
        for (let i = 0; i < r.count; i++)
          out.push([
            r.keys.subarray(i * this.keySize, (i + 1) * this.keySize),
            r.values.subarray(i * this.syscallValueSize, (i + 1) * this.syscallValueSize),
          ]);
        if (!r.next) return out;
        token = r.next;
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (
        out.length === 0 &&
        (code === 'EINVAL' || code === 'ENOTSUPP' || code === 'EOPNOTSUPP' || code === 'ENOTSUP')
      ) {
        const all = [...this.entries()];
        if (opts.deleteRead) for (const [k] of all) this.delete(k);
        return all;
      }
      throw this.fail('batch lookup')(e as Error);
    }
  }

  updateBatch(entries: [Buffer, Buffer][], flag: UpdateFlagName = 'any'): number {
    if (entries.length === 0) return 0;
    const keys = Buffer.concat(entries.map(([k]) => this.key(k)));
    const values = Buffer.concat(entries.map(([, v]) => v));
    const flags = UpdateFlag[flag.toUpperCase() as keyof typeof UpdateFlag];
    return nativeCall(
      () => native.mapUpdateBatch(this.fd, keys, values, entries.length, flags),
      this.fail('batch update'),
    );
  }

  deleteBatch(keys: Key[]): number {
    if (keys.length === 0) return 0;
    const buf = Buffer.concat(keys.map((k) => this.key(k)));
    return nativeCall(() => native.mapDeleteBatch(this.fd, buf, keys.length), this.fail('batch delete'));
  }

  /** Closes the fd only for maps created with BpfMap.create(); object maps close with their object. */
  close(): void {
    if (this.ownsFd) native.closeFd(this.fd);
  }
}

export { MapType };
