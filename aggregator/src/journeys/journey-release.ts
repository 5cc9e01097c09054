// A journey leaving the sorter: its events gathered from the window's columns, put in cluster-time
// order, made into the events its readers take (ReleasedEvent), and their slots freed; what late
// events will need of it kept in its columns.
import type { K8sInfo } from './event-keys.js';
import { HAS_TS, type EventWindow } from './event-window.js';
import type { JourneyTable } from './journey-table.js';
import { TRACKED, type SeriesTable } from './series-table.js';
import { ReleasedEvent, type Journey, type JourneyEvent } from './sorted-event.js';
import type { NodeState } from './sorter-state.js';
import type { Watermark } from './watermark.js';

/** What releasing reads and writes. */
export interface ReleaseContext {
  w: EventWindow;
  wm: Watermark;
  series: SeriesTable;
  journeys: JourneyTable;
}

/**
 * Makes journey `j` of its events in the window (freeing their slots), and keeps its id's parts,
 * its next index and its nodes for late events.
 */
export function releaseJourney(c: ReleaseContext, j: number, clockVersion: number): Journey {
  const { w, wm, journeys } = c;
  const n = journeys.count[j] as number;
  if (w.order.length < n) w.order = new Int32Array(n * 2);
  const order = w.order;
  let k = 0;
  for (let i = journeys.head[j] as number; i >= 0; i = w.next[i] as number) order[k++] = i;
  let sorted = journeys.sorted[j] === 1;
  // The clock was refined since these times were computed: recompute them all with the latest
  // offsets, so that each node's events keep their monotonic order.
  if (journeys.clockVersion[j] !== clockVersion) {
    for (let x = 0; x < n; x++) {
      const i = order[x] as number;
      if (((w.flags[i] as number) & HAS_TS) !== 0)
        w.rel[i] = (w.dm[i] as number) + wm.anchorRelOf(wm.list[w.node[i] as number] as NodeState);
    }
    sorted = false;
  }
  if (!sorted) sortSlots(w, order, n);
  // The id: the first event's series (its node and tracking id, or its untracked number).
  const s = w.series[order[0] as number] as number;
  const st = c.series;
  journeys.idNode[j] = st.node[s] as number;
  journeys.idTracked[j] = (st.flags[s] as number) & TRACKED;
  journeys.idHeadHi[j] = st.headHi[s] as number;
  journeys.idHeadLo[j] = st.headLo[s] as number;
  journeys.idTrackHi[j] = st.trackHi[s] as number;
  journeys.idTrackLo[j] = st.trackLo[s] as number;
  journeys.idUntracked[j] = st.untracked[s] as number;
  const id = idOf(c, j);
  const nodes: string[] = [];
  const events = new Array<JourneyEvent>(n);
  const names = wm.names;
  let last = -1;
  for (let x = 0; x < n; x++) {
    const i = order[x] as number;
    const node = w.node[i] as number;
    events[x] = made(w, wm, names[node] as string, i, x, false);
    if (node !== last && journeys.addNode(j, node)) nodes.push(names[node] as string);
    last = node;
    w.release(i);
  }
  journeys.next[j] = n;
  journeys.head[j] = journeys.tail[j] = -1;
  journeys.count[j] = 0;
  return { id, nodes, events };
}

/**
 * An event (slot `i`) for journey `j`, already released: it goes alone, late, with the journey's
 * id and its next index.
 */
export function releaseLate(c: ReleaseContext, j: number, i: number, onJourney: (j: Journey) => void): void {
  const { w, wm, journeys } = c;
  const idx = journeys.next[j] as number;
  journeys.next[j] = idx + 1;
  const e = made(w, wm, wm.names[w.node[i] as number] as string, i, idx, true);
  journeys.addNode(j, w.node[i] as number);
  w.release(i);
  // A new array of nodes each time: one already handed out must not change under its reader.
  const nodes = journeys.nodesOf(j).map((n) => wm.names[n] as string);
  onJourney({ id: idOf(c, j), nodes, events: [e] });
}

/** A released journey's id: `node/tracking id` of its first series (`node/uN` when untracked). */
function idOf(c: ReleaseContext, j: number): string {
  const { wm, journeys } = c;
  const node = wm.names[journeys.idNode[j] as number] as string;
  return journeys.idTracked[j] !== 0
    ? `${node}/${trackingIdOf(
        journeys.idHeadHi[j] as number,
        journeys.idHeadLo[j] as number,
        journeys.idTrackHi[j] as number,
        journeys.idTrackLo[j] as number,
      )}`
    : `${node}/u${journeys.idUntracked[j] as number}`;
}

const TWO_32 = 4294967296;

/** The event in slot `i` (from node `node`), at `idx` in its journey. */
function made(w: EventWindow, wm: Watermark, node: string, i: number, idx: number, late: boolean): ReleasedEvent {
  const b = w.batch[i] as number;
  // Its cluster time, the base plus its time after it, as two halves (no bigint).
  const rel = w.rel[i] as number;
  const relHi = Math.floor(rel / TWO_32);
  let lo = wm.baseLo + (rel - relHi * TWO_32);
  let carry = 0;
  if (lo >= TWO_32) {
    lo -= TWO_32;
    carry = 1;
  }
  return new ReleasedEvent(
    node,
    w.bufs[b] as Uint8Array,
    w.start[i] as number,
    w.end[i] as number,
    w.whole[b] as boolean,
    (wm.baseHi + relHi + carry) | 0,
    lo | 0,
    idx,
    late,
    w.drop[i] as string,
    w.k8s[i] as K8sInfo,
    w.origins[b],
    w.slot[i] as number,
  );
}

/** Cluster time; ties: the same node's monotonic time, else arrival (the sort is stable). */
function before(w: EventWindow, a: number, b: number): number {
  const ra = w.rel[a] as number;
  const rb = w.rel[b] as number;
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (w.node[a] !== w.node[b]) return 0;
  const ma = w.dm[a] as number;
  const mb = w.dm[b] as number;
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

/**
 * Sorts a journey's slots by cluster time, stably. Journeys are short (a packet's hops) and nearly
 * in order: insertion sort, in place; long ones (a packet looping, a merge of many series) go to
 * the builtin.
 */
function sortSlots(w: EventWindow, s: Int32Array, n: number): void {
  if (n > 48) {
    const a = Array.from(s.subarray(0, n)).sort((x, y) => before(w, x, y));
    s.set(a);
    return;
  }
  for (let x = 1; x < n; x++) {
    const e = s[x] as number;
    let y = x - 1;
    while (y >= 0 && before(w, s[y] as number, e) > 0) {
      s[y + 1] = s[y] as number;
      y--;
    }
    s[y + 1] = e;
  }
}

/** Two hex digits of each byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A 32-bit half (signed or not) as 8 hex digits. */
const hex8 = (v: number): string =>
  (HEX[(v >>> 24) & 0xff] as string) +
  (HEX[(v >>> 16) & 0xff] as string) +
  (HEX[(v >>> 8) & 0xff] as string) +
  (HEX[v & 0xff] as string);

/**
 * The tracking id @retrace/events's trackingId gives (the timestamp's hex, then orig_head's in 16
 * digits), from their halves (signed or not), without a bigint.
 */
export function trackingIdOf(headHi: number, headLo: number, tsHi: number, tsLo: number): string {
  const ts = tsHi === 0 ? (tsLo >>> 0).toString(16) : (tsHi >>> 0).toString(16) + hex8(tsLo);
  return ts + hex8(headHi) + hex8(headLo);
}
