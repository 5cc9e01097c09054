// The events waiting in the journey sorter, as columns: one slot per event in typed arrays (and a
// few arrays of shared strings), no object per event. An event's bytes stay in the buffer they
// came in (a batch's, as the agent link received it), which is held until its last event is
// released. Waiting events cost the collector nothing to move or mark, and their memory is the
// columns' few dozen bytes plus their bytes.
import { NO_K8S, type K8sInfo } from './event-keys.js';
import type { EventOrigin } from './sorted-event.js';
import { widened, widenedFreeList } from './columns.js';

/** Flags of an event. */
export const HAS_TS = 1;

export class EventWindow {
  private cap = 0;
  /** Free slots (a stack), and how many. */
  private free = new Int32Array(0);
  private nFree = 0;
  /** The slots' batch, its bytes there ([start, end)), and its place in its origin's batch. */
  batch = new Int32Array(0);
  start = new Int32Array(0);
  end = new Int32Array(0);
  slot = new Int32Array(0);
  node = new Int32Array(0);
  flags = new Uint8Array(0);
  /** Monotonic ns from its node's anchor (-Infinity without a timestamp). */
  dm = new Float64Array(0);
  /** Cluster ns after the sorter's base, as last computed. */
  rel = new Float64Array(0);
  /** The next event of its journey (-1: the last). */
  next = new Int32Array(0);
  drop: string[] = [];
  k8s: K8sInfo[] = [];
  /** Its series (a number in the sorter's series table). */
  series = new Int32Array(0);
  /** Scratch for the slots of a journey being released. */
  order = new Int32Array(256);

  // Batches: a buffer holding events, who sent it, and how many slots (plus one while it is
  // being fed) still hold it.
  bufs: (Uint8Array | undefined)[] = [];
  /** The buffer is one event's bytes as given (released events' raw is the buffer itself). */
  whole: boolean[] = [];
  origins: (EventOrigin | undefined)[] = [];
  private holds: number[] = [];
  private freeBatches: number[] = [];

  constructor(capacity = 16_384) {
    this.grow(capacity);
  }

  /** A new batch for `buf`, held open until close(). */
  open(buf: Uint8Array, whole: boolean, origin: EventOrigin | undefined): number {
    const b = this.freeBatches.pop() ?? this.bufs.length;
    this.bufs[b] = buf;
    this.whole[b] = whole;
    this.origins[b] = origin;
    this.holds[b] = 1;
    return b;
  }

  /** The batch is fed no more: it goes with its last event. */
  close(b: number): void {
    this.unhold(b);
  }

  /** A slot for an event of batch `b`. */
  alloc(b: number): number {
    if (this.nFree === 0) this.grow(this.cap * 2);
    const i = this.free[--this.nFree] as number;
    this.batch[i] = b;
    this.holds[b] = (this.holds[b] as number) + 1;
    return i;
  }

  /**
   * The slot is empty again (its event released). What its string columns point to stays until
   * the slot is taken again (strings shared by many events; bounded by the window's size).
   */
  release(i: number): void {
    this.unhold(this.batch[i] as number);
    this.free[this.nFree++] = i;
  }

  private unhold(b: number): void {
    const h = (this.holds[b] as number) - 1;
    this.holds[b] = h;
    if (h > 0) return;
    this.bufs[b] = undefined;
    this.origins[b] = undefined;
    this.freeBatches.push(b);
  }

  private grow(cap: number): void {
    const old = this.cap;
    this.batch = widened(this.batch, cap);
    this.start = widened(this.start, cap);
    this.end = widened(this.end, cap);
    this.slot = widened(this.slot, cap);
    this.node = widened(this.node, cap);
    this.next = widened(this.next, cap);
    this.flags = widened(this.flags, cap);
    this.dm = widened(this.dm, cap);
    this.rel = widened(this.rel, cap);
    this.drop = grown(this.drop, cap, '');
    this.k8s = grown(this.k8s, cap, NO_K8S);
    this.series = widened(this.series, cap);
    // The new slots are free, lowest first.
    ({ free: this.free, nFree: this.nFree } = widenedFreeList(this.free, this.nFree, old, cap));
    this.cap = cap;
  }
}

/** `a` in an array of `cap`, the rest `fill`. */
function grown<T>(a: T[], cap: number, fill: T): T[] {
  const b = new Array<T>(cap).fill(fill);
  for (let i = 0; i < a.length; i++) b[i] = a[i] as T;
  return b;
}
