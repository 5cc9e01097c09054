// A load of bpf/progs/probe.bpf.c through the names its BTF gives (agent/src/gen/probe-skeleton.ts):
// a program, map or setting the object does not have does not compile.
import { BpfObject, MapType, type BpfMap, type GlobalValue, type Program } from '@retrace/ebpf-loader';
import { MAPS, type MapName, type ProbeGlobals, type ProgramName } from '../gen/probe-skeleton.js';

/**
 * The maps every load of the object shares with the main one: all but the one-entry per-CPU
 * arrays, which are scratch space of a single program run.
 */
export const SHARED_MAPS = (Object.keys(MAPS) as MapName[]).filter(
  (m) => !(MAPS[m].type === MapType.PERCPU_ARRAY && MAPS[m].maxEntries === 1),
);

export class ProbeObject {
  private constructor(readonly object: BpfObject) {}

  static open(path: string, name?: string): ProbeObject {
    return new ProbeObject(BpfObject.open(path, name === undefined ? {} : { name }));
  }

  get loaded(): boolean {
    return this.object.loaded;
  }

  set(values: Partial<ProbeGlobals>): void {
    for (const [k, v] of Object.entries(values) as [string, GlobalValue | undefined][])
      if (v !== undefined) this.object.setGlobal(k, v);
  }

  program(name: ProgramName): Program {
    return this.object.program(name);
  }

  map(name: MapName): BpfMap {
    return this.object.map(name);
  }

  setMapMaxEntries(name: MapName, n: number): void {
    this.object.setMapMaxEntries(name, n);
  }

  /** Uses the maps of another (loaded) load of the object instead of its own. */
  shareMaps(from: ProbeObject): void {
    for (const m of SHARED_MAPS) this.object.reuseMap(m, from.map(m));
  }

  loadOnly(programs: Iterable<ProgramName>): void {
    this.object.loadOnly([...programs]);
  }

  close(): void {
    this.object.close();
  }
}
