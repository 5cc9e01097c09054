// The journey sorter's journeys as columns: a journey is a number. Open, it holds its events (a
// list through the event window) and its series (a list through the series table); released, what
// late events need of it: how its id is made, its next index and the nodes it crossed.
//
// A journey is kept while something holds it, counted in `refs`: being open, each entry of the
// release heap naming it (the heap is updated lazily), and each series that was part of it
// (their late events). One nothing holds is freed, and its number given to the next journey.
import { widened, widenedFreeList } from './columns.js';

export const OPEN = 0;
export const RELEASED = 1;
export const MERGED = 2;

export class JourneyTable {
  private cap = 0;
  private free = new Int32Array(0);
  private nFree = 0;
  state = new Uint8Array(0);
  /** Its events in arrival order (window slots, -1: none), and how many. */
  head = new Int32Array(0);
  tail = new Int32Array(0);
  count = new Int32Array(0);
  /** Its series (series numbers, through SeriesTable.nextInJourney), and how many. */
  seriesHead = new Int32Array(0);
  seriesTail = new Int32Array(0);
  seriesCount = new Int32Array(0);
  /** Cluster times (ns after the sorter's base) of its latest event and of the last one added. */
  latest = new Float64Array(0);
  last = new Float64Array(0);
  /** Heap key: a lower bound of `latest` (the heap is updated lazily). */
  key = new Float64Array(0);
  /** Its events are in order as they came. */
  sorted = new Uint8Array(0);
  clockVersion = new Int32Array(0);
  /** Released: the index of its next late event. */
  next = new Int32Array(0);
  /**
   * Released: its id's parts (its first event's series: node, tracked, tracking halves or
   * untracked number), and the nodes it crossed (node numbers: two here, more in `more`).
   */
  idNode = new Int32Array(0);
  idTracked = new Uint8Array(0);
  idHeadHi = new Int32Array(0);
  idHeadLo = new Int32Array(0);
  idTrackHi = new Int32Array(0);
  idTrackLo = new Int32Array(0);
  idUntracked = new Float64Array(0);
  nodeCount = new Int32Array(0);
  node0 = new Int32Array(0);
  node1 = new Int32Array(0);
  more: (number[] | undefined)[] = [];
  refs = new Int32Array(0);
  /** Journeys in use. */
  live = 0;

  constructor(capacity = 4096) {
    this.grow(capacity);
  }

  /** A new open journey (held as open) at cluster time `ts`. */
  alloc(ts: number, clockVersion: number): number {
    if (this.nFree === 0) this.grow(this.cap * 2);
    const j = this.free[--this.nFree] as number;
    this.state[j] = OPEN;
    this.head[j] = this.tail[j] = -1;
    this.count[j] = 0;
    this.seriesHead[j] = this.seriesTail[j] = -1;
    this.seriesCount[j] = 0;
    this.latest[j] = this.last[j] = this.key[j] = ts;
    this.sorted[j] = 1;
    this.clockVersion[j] = clockVersion;
    this.next[j] = 0;
    this.nodeCount[j] = 0;
    this.refs[j] = 1;
    this.live++;
    return j;
  }

  hold(j: number): void {
    this.refs[j] = (this.refs[j] as number) + 1;
  }

  /** Lets go of `j`: freed when nothing holds it any more. */
  drop(j: number): void {
    const r = (this.refs[j] as number) - 1;
    this.refs[j] = r;
    if (r > 0) return;
    this.more[j] = undefined;
    this.free[this.nFree++] = j;
    this.live--;
  }

  /** Adds node `n` to the nodes the (released) journey crossed, if new; whether it was. */
  addNode(j: number, n: number): boolean {
    const c = this.nodeCount[j] as number;
    if (c > 0 && this.node0[j] === n) return false;
    if (c > 1 && this.node1[j] === n) return false;
    const more = this.more[j];
    if (more !== undefined && more.includes(n)) return false;
    if (c === 0) this.node0[j] = n;
    else if (c === 1) this.node1[j] = n;
    else if (more === undefined) this.more[j] = [n];
    else more.push(n);
    this.nodeCount[j] = c + 1;
    return true;
  }

  /** The nodes the journey crossed (node numbers, in order). */
  nodesOf(j: number): number[] {
    const c = this.nodeCount[j] as number;
    const out: number[] = [];
    if (c > 0) out.push(this.node0[j] as number);
    if (c > 1) out.push(this.node1[j] as number);
    for (const n of this.more[j] ?? []) out.push(n);
    return out;
  }

  private grow(cap: number): void {
    const old = this.cap;
    this.state = widened(this.state, cap);
    this.head = widened(this.head, cap);
    this.tail = widened(this.tail, cap);
    this.count = widened(this.count, cap);
    this.seriesHead = widened(this.seriesHead, cap);
    this.seriesTail = widened(this.seriesTail, cap);
    this.seriesCount = widened(this.seriesCount, cap);
    this.latest = widened(this.latest, cap);
    this.last = widened(this.last, cap);
    this.key = widened(this.key, cap);
    this.sorted = widened(this.sorted, cap);
    this.clockVersion = widened(this.clockVersion, cap);
    this.next = widened(this.next, cap);
    this.idNode = widened(this.idNode, cap);
    this.idTracked = widened(this.idTracked, cap);
    this.idHeadHi = widened(this.idHeadHi, cap);
    this.idHeadLo = widened(this.idHeadLo, cap);
    this.idTrackHi = widened(this.idTrackHi, cap);
    this.idTrackLo = widened(this.idTrackLo, cap);
    this.idUntracked = widened(this.idUntracked, cap);
    this.nodeCount = widened(this.nodeCount, cap);
    this.node0 = widened(this.node0, cap);
    this.node1 = widened(this.node1, cap);
    for (let i = old; i < cap; i++) this.more.push(undefined);
    this.refs = widened(this.refs, cap);
    ({ free: this.free, nFree: this.nFree } = widenedFreeList(this.free, this.nFree, old, cap));
    this.cap = cap;
  }
}
