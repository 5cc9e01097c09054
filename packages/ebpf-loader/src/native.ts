// Loads the compiled addon and describes its raw surface. Internal: use the typed wrappers.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeModuleMissingError } from './errors.js';

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
  insnCount: number;
  fd: number;
}

export interface NativeMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  internal: boolean;
  fd: number;
}

export interface NativeDatasecVar {
  section: string;
  map: string;
  name: string;
  offset: number;
  size: number;
}

export interface NativeLink {
  close(): void;
  fd(): number;
  info(): { id: number; progId: number; type: number } | null;
}

export interface NativeBpfObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  datasecVars(): NativeDatasecVar[];
  getInitialValue(map: string): Buffer;
  setInitialValue(map: string, value: Buffer): void;
  setAutoload(prog: string, on: boolean): void;
  setAttachTarget(prog: string, target: string): void;
  instructions(prog: string): Buffer;
  setInstructions(prog: string, insns: Buffer): void;
  setMaxEntries(map: string, n: number): void;
  reuseMapFd(map: string, fd: number): void;
  load(): void;
  programFd(prog: string): number;
  mapFd(map: string): number;
  attachAuto(prog: string): NativeLink;
  attachTrace(prog: string): NativeLink;
  attachRawTracepoint(prog: string, tp: string, cookie: bigint): NativeLink;
  attachKprobe(prog: string, fn: string, ret: boolean, offset: bigint, cookie: bigint): NativeLink;
  attachKprobeMulti(prog: string, target: string | string[], ret: boolean, cookies?: bigint[]): NativeLink;
  attachUprobe(
    prog: string,
    pid: number,
    binary: string,
    fn: string | null,
    offset: bigint,
    ret: boolean,
    cookie: bigint,
  ): NativeLink;
  attachUsdt(prog: string, pid: number, binary: string, provider: string, name: string, cookie: bigint): NativeLink;
  close(): void;
}

export interface NativeRingBuffer {
  views(): { data: ArrayBuffer; offsets: Uint32Array };
  start(): void;
  stop(): void;
  consume(): number;
  stats(): { records: number; batches: number; size: number; pendingBytes?: number };
  close(): void;
}

export interface NativeRecordFormatter {
  setEntry(table: number, key: number, bytes: Uint8Array): void;
  format(
    data: Uint8Array,
    offsets: Uint32Array,
    from: number,
    to: number,
    out: Uint8Array,
    outPos: number,
    ends: Uint32Array,
    endsUsed: number,
  ): number;
}

export interface NativeNetlinkSocket {
  start(): void;
  read(): void;
  cookie(): bigint;
  close(): void;
}

export interface NativeBtfType {
  id: number;
  kind: number;
  name: string;
  vlen: number;
  size?: number;
  type?: number;
  bits?: number;
  signed?: boolean;
  linkage?: number;
  indexType?: number;
  nelems?: number;
  members?: { name: string; type: number; bitOffset: number; bitSize: number }[];
  params?: { name: string; type: number }[];
  values?: { name: string; value: number | bigint }[];
}

export interface NativeBtf {
  typeCount(): number;
  firstId(): number;
  findByName(name: string, kind: number): number;
  namesOfKind(kind: number): string[];
  typesOfKind(kind: number): { names: string[]; ids: Uint32Array };
  type(id: number): NativeBtfType;
  decl(id: number, field?: string): string;
  resolveSize(id: number): number;
  close(): void;
}

export interface NativeModule {
  BpfObject: new (source: string | Buffer, name?: string) => NativeBpfObject;
  RingBuffer: new (
    mapFd: number,
    cb: (count: number) => void,
    maxRecords: number,
    maxBytes: number,
  ) => NativeRingBuffer;
  RecordFormatter: new (
    ops: Uint32Array,
    literals: Uint8Array,
    literalRanges: Uint32Array,
    tables: number,
    state: Uint32Array,
  ) => NativeRecordFormatter;
  formatterOps: Record<string, number>;
  Btf: new (source: 'vmlinux' | 'module' | 'file', arg?: string) => NativeBtf;
  NetlinkSocket: new (
    nsPath: string,
    protocol: number,
    groups: number[],
    onMessages: (datagrams: Buffer[], overruns: number) => void,
  ) => NativeNetlinkSocket;
  mapLookup(fd: number, key: Buffer, valueSize: number, flags?: number): Buffer | null;
  mapLookupAndDelete(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapLookupBatch(
    fd: number,
    token: Buffer | null,
    keySize: number,
    valueSize: number,
    count: number,
    del: boolean,
  ): { keys: Buffer; values: Buffer; count: number; next: Buffer | null };
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number, flags: number): number;
  mapDeleteBatch(fd: number, keys: Buffer, count: number): number;
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags?: number): number;
  closeFd(fd: number): void;
  numPossibleCpus(): number;
  progInfo(fd: number): {
    id: number;
    type: number;
    name: string;
    runTimeNs: bigint;
    runCount: bigint;
    xlatedLen: number;
    jitedLen: number;
    verifiedInsns: number;
  };
  mapInfo(fd: number): {
    id: number;
    type: number;
    name: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
  };
  testRun(
    fd: number,
    data: Buffer | null,
    repeat: number,
    outSize: number,
    ctx?: Buffer,
  ): { retval: number; durationNs: number; data: Buffer };
  pcapCompile(linkType: number, snaplen: number, expr: string, optimize: boolean, netmask: number): Buffer;
  pcapDatalinkNameToVal(name: string): number;
  pcapLibVersion(): string;
  setSplice(magic: number, insns: Buffer | null): void;
  monotonicClockOffset(): { offsetNs: bigint; uncertaintyNs: number };
}

function load(): NativeModule {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/ and dist/ both sit one level below the package root.
  const candidates = ['Release', 'Debug'].map((d) => join(here, '..', 'build', d, 'ebpf_loader.node'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new NativeModuleMissingError(candidates);
  return createRequire(import.meta.url)(found) as NativeModule;
}

export const native: NativeModule = load();
