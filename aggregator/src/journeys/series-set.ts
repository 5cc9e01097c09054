// The journey sorter's series: found by their node and tracking id, made, held and forgotten. A
// series is held by its node's generation tables, by being its node's last series, by each
// fingerprint entry naming it and by its open journey (hold / drop); one nothing holds is freed,
// and lets go of the released journey it was part of.
import type { EventKeys } from './event-keys.js';
import type { JourneyTable } from './journey-table.js';
import { SeriesTable } from './series-table.js';
import type { NodeState } from './sorter-state.js';
import type { Watermark } from './watermark.js';

export class SeriesSet {
  readonly t = new SeriesTable();
  /** Series made (the sorter's count). */
  made = 0;
  /** Series made since the last generation change (see NodeState.series). */
  private inGeneration = 0;
  private untracked = 0;

  constructor(
    private readonly journeys: JourneyTable,
    private readonly wm: Watermark,
    private readonly rememberReleased: number,
  ) {}

  hold(s: number): void {
    this.t.refs[s] = (this.t.refs[s] as number) + 1;
  }

  drop(s: number): void {
    const r = (this.t.refs[s] as number) - 1;
    this.t.refs[s] = r;
    if (r === 0) this.free(s);
  }

  /** Frees `s` if nothing holds it (a new untracked series that went out late at once). */
  sweep(s: number): void {
    if (this.t.refs[s] === 0) this.free(s);
  }

  /** A series nothing holds: gone, and it no longer holds the journey it was part of. */
  private free(s: number): void {
    const j = this.t.released[s] as number;
    this.t.release(s);
    if (j >= 0) this.journeys.drop(j);
  }

  /** The node's series of the event's tracking id (-1: a new one). */
  find(n: NodeState, k: EventKeys): number {
    if (later(k.trackHi, k.trackLo, n.maxTrackHi, n.maxTrackLo)) return -1; // newer than all: new for sure
    const t = this.t;
    const s = n.series.get(k.headLo, k.headHi);
    if (s >= 0 && t.trackLo[s] === k.trackLo && t.trackHi[s] === k.trackHi) return s;
    const o = n.older.get(k.headLo, k.headHi);
    return o >= 0 && t.trackLo[o] === k.trackLo && t.trackHi[o] === k.trackHi ? o : -1;
  }

  /**
   * A new series of node `n` for the event whose keys are `k` (`dm` its monotonic time from the
   * node's anchor, NaN without a timestamp); a tracked one goes into its node's generation.
   */
  make(n: NodeState, k: EventKeys, dm: number): number {
    const t = this.t;
    const s = t.alloc(n.index, k.tracked, k.tracked ? 0 : ++this.untracked, dm);
    t.headHi[s] = k.headHi;
    t.headLo[s] = k.headLo;
    t.trackHi[s] = k.trackHi;
    t.trackLo[s] = k.trackLo;
    // No timestamp: its time is the node's latest.
    if (dm !== dm) t.firstMono.set(s, this.wm.base + BigInt(n.hw) - n.offset);
    this.made++;
    if (!k.tracked) return s;
    // A newer packet in a reused buffer replaces the older one in the generation.
    this.hold(s);
    const was = n.series.put(k.headLo, k.headHi, s);
    if (was >= 0) this.drop(was);
    if (later(k.trackHi, k.trackLo, n.maxTrackHi, n.maxTrackLo)) {
      n.maxTrackHi = k.trackHi;
      n.maxTrackLo = k.trackLo;
    }
    if (++this.inGeneration > this.rememberReleased / 2) this.nextGeneration();
    return s;
  }

  /** Forgets the older generation of series, but not the open ones in it. */
  private nextGeneration(): void {
    this.inGeneration = 0;
    const t = this.t;
    for (const n of this.wm.list) {
      const keep = n.series;
      const drop = n.older;
      drop.forEach((s, lo, hi) => {
        if ((t.journey[s] as number) >= 0 && keep.get(lo, hi) < 0) keep.set(lo, hi, s);
        else this.drop(s);
      });
      drop.clear();
      n.older = keep;
      n.series = drop; // emptied: reused for the new generation
    }
  }

  /** A series' first monotonic time, exactly. */
  firstMono(s: number): bigint {
    const dm = this.t.firstDm[s] as number;
    if (dm !== dm) return this.t.firstMono.get(s) ?? 0n;
    return (this.wm.list[this.t.node[s] as number] as NodeState).anchor + BigInt(dm);
  }

  /** A series' first cluster time (after the base) with its node's current offset. */
  firstRel(s: number): number {
    const n = this.wm.list[this.t.node[s] as number] as NodeState;
    const dm = this.t.firstDm[s] as number;
    const at = this.wm.anchorRelOf(n); // (refreshes the node's offset)
    if (dm === dm) return dm + at;
    return Number(this.firstMono(s) + n.offset - this.wm.base);
  }
}

/** Whether the 64-bit value (hi, lo) is above (maxHi, maxLo) (halves signed or not; both -1: none yet, below all). */
function later(hi: number, lo: number, maxHi: number, maxLo: number): boolean {
  if (maxHi === -1 && maxLo === -1) return true;
  const h = hi >>> 0;
  const m = maxHi >>> 0;
  return h > m || (h === m && lo >>> 0 > maxLo >>> 0);
}
