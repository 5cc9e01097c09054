// The index of a trace's stored records, kept in memory and rebuilt on open: per segment, columns
// of typed arrays (where each record is, its block, its journey, node, pod and drop reason as
// numbers), and the trace's strings behind those numbers. Filters are answered from the columns
// alone, without reading a segment: a journey matches when, for each criterion given, one of its
// events does, and it is then returned whole.
import { ProtoDecodeError } from '@retrace/events';
import type { SortKeyReader, SortKeys } from '../journeys/sort-keys.js';

export interface StoreFilter {
  node?: string;
  /** `namespace/name` */
  pod?: string;
  dropReason?: string;
}

/** A growable column of uint32. */
export class U32 {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  at(i: number): number {
    return this.data[i] as number;
  }
  /** No room kept for more (a closed segment's: its column doubled as it grew). */
  trim(): void {
    if (this.data.length > this.length) this.data = this.data.slice(0, Math.max(1, this.length));
  }
}

/** Distinct strings and their numbers, in the order first seen. */
export class StringTable {
  readonly list: string[];
  private readonly ids: Map<string, number>;
  constructor(first?: string) {
    this.list = first === undefined ? [] : [first];
    this.ids = new Map(first === undefined ? [] : [[first, 0]]);
  }
  /** The number of `s`, added when new. */
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
  /** The number of `s` if it was ever added. */
  find(s: string): number | undefined {
    return this.ids.get(s);
  }
  at(id: number): string {
    return this.list[id] as string;
  }
}

/**
 * A segment's journey ids by number: a record's journey is a number, and the records of a journey
 * come in a row (late ones after others: a number of their own), so a number is given per run of
 * one id, without a map to look ids up in.
 */
export class JourneyIds {
  readonly list: string[] = [];
  private last: string | undefined;
  /** The number of `id` for the next record. */
  id(id: string): number {
    if (id !== this.last) {
      this.list.push(id);
      this.last = id;
    }
    return this.list.length - 1;
  }
  at(n: number): string {
    return this.list[n] as string;
  }
}

/** One segment's records: per record, where its body starts, its size, its block and its index fields. */
export class SegmentIndex {
  readonly offset = new U32();
  readonly block = new U32();
  readonly size = new U32();
  readonly journey = new U32();
  readonly node = new U32();
  readonly pod = new U32();
  readonly drop = new U32();
  /** Journey ids of the segment, by their number in `journey`. */
  readonly journeys = new JourneyIds();

  get count(): number {
    return this.offset.length;
  }

  /** The segment takes no more records: its columns keep no room for more. */
  trim(): void {
    for (const c of [this.offset, this.block, this.size, this.journey, this.node, this.pod, this.drop]) c.trim();
  }

  add(block: number, offset: number, size: number, journey: number, node: number, pod: number, drop: number): void {
    this.offset.push(offset);
    this.block.push(block);
    this.size.push(size);
    this.journey.push(journey);
    this.node.push(node);
    this.pod.push(pod);
    this.drop.push(drop);
  }

  /** A record read back from a segment file, its strings numbered by the trace's table. */
  addRecord(strings: StringTable, block: number, offset: number, size: number, f: RecordFields): void {
    const journey = this.journeys.id(f.journey);
    this.add(block, offset, size, journey, strings.id(f.node), strings.id(f.pod), strings.id(f.drop));
  }

  /** The journey id of record `i`. */
  journeyOf(i: number): string {
    return this.journeys.at(this.journey.at(i));
  }

  /** Records in the block at `at`. */
  recordsIn(at: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.block.at(i) === at) n++;
    return n;
  }
}

/** The index fields of one stored event. */
export interface RecordFields {
  journey: string;
  node: string;
  pod: string;
  drop: string;
}

/** `namespace/name`, as the pod index and filters have it ('' when no pod). */
export function podOf(namespace: string, pod: string): string {
  if (!pod) return '';
  return namespace ? `${namespace}/${pod}` : pod;
}

/**
 * The index fields of one stored event, read with the aggregator's own reader (a scan's SortKeyReader):
 * journey id, node, pod and drop reason. Undefined when the bytes are not a well-formed event.
 */
export function recordFields(keys: SortKeyReader, b: Buffer, start: number, end: number): RecordFields | undefined {
  let k: SortKeys;
  try {
    k = keys.read(b.subarray(start, end));
  } catch (e) {
    if (e instanceof ProtoDecodeError) return undefined;
    throw e;
  }
  return { journey: k.journeyId, node: k.k8sNode, pod: podOf(k.namespace, k.pod), drop: k.dropReason };
}

/** The index columns a filter reads. */
type IndexColumn = 'node' | 'pod' | 'drop';

/**
 * Journey ids matching the filter among the first `count` records of each segment (undefined:
 * no filter; null: nothing can match).
 */
export function matchingJourneys(
  strings: StringTable,
  segments: { index: SegmentIndex; count: number }[],
  filter: StoreFilter,
): Set<string> | undefined | null {
  const criteria: [IndexColumn, number][] = [];
  for (const [col, value] of [
    ['node', filter.node],
    ['pod', filter.pod],
    ['drop', filter.dropReason],
  ] as const) {
    if (!value) continue;
    const id = strings.find(value);
    if (id === undefined) return null; // never stored: no journey can match
    criteria.push([col, id]);
  }
  if (criteria.length === 0) return undefined;
  const all = (1 << criteria.length) - 1;
  const bits = new Map<string, number>();
  for (const { index, count } of segments) {
    for (let i = 0; i < count; i++) {
      let b = 0;
      for (let c = 0; c < criteria.length; c++) {
        const [col, id] = criteria[c] as [IndexColumn, number];
        if (index[col].at(i) === id) b |= 1 << c;
      }
      if (b === 0) continue;
      const jid = index.journeyOf(i);
      bits.set(jid, (bits.get(jid) ?? 0) | b);
    }
  }
  const out = new Set<string>();
  for (const [jid, b] of bits) if (b === all) out.add(jid);
  return out;
}
