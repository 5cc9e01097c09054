// A journey leaving the sorter: its events gathered from the window's columns, put in cluster-time
// order, made into the events its readers take (ReleasedEvent), and their slots freed.
import { HAS_K8S, HAS_TS, type EventWindow } from './event-window.js';
import { ReleasedEvent, type Journey, type JourneyEvent } from './sorted-event.js';
import type { JourneyState, NodeState } from './sorter-state.js';
import type { Watermark } from './watermark.js';

/** Makes the journey `j` (released) of its events in the window, and frees their slots. */
export function releaseJourney(w: EventWindow, wm: Watermark, j: JourneyState, clockVersion: number): Journey {
  const n = j.count;
  if (w.order.length < n) w.order = new Int32Array(n * 2);
  const order = w.order;
  let k = 0;
  for (let i = j.head; i >= 0; i = w.next[i] as number) order[k++] = i;
  let sorted = j.sorted;
  // The clock was refined since these times were computed: recompute them all with the latest
  // offsets, so that each node's events keep their monotonic order.
  if (j.clockVersion !== clockVersion) {
    for (let x = 0; x < n; x++) {
      const i = order[x] as number;
      if (((w.flags[i] as number) & HAS_TS) !== 0)
        w.rel[i] = (w.dm[i] as number) + wm.anchorRelOf(wm.list[w.node[i] as number] as NodeState);
    }
    sorted = false;
  }
  if (!sorted) sortSlots(w, order, n);
  const head = order[0] as number;
  const first = w.series[head] as JourneyState['series'][number];
  const firstNode = first.node.name;
  const id = first.tracked
    ? `${firstNode}/${trackingIdOf(first.headHi, first.headLo, first.trackHi, first.trackLo)}`
    : `${firstNode}/u${first.untracked}`;
  const nodes: string[] = [];
  const events = new Array<JourneyEvent>(n);
  let last = '';
  for (let x = 0; x < n; x++) {
    const i = order[x] as number;
    const e = made(w, wm, i, x, false);
    events[x] = e;
    if (e.node !== last && !nodes.includes(e.node)) nodes.push(e.node);
    last = e.node;
    w.release(i);
  }
  j.id = id;
  j.next = n;
  j.nodes = nodes;
  j.head = j.tail = -1;
  j.count = 0;
  return { id, nodes, events };
}

/**
 * An event for a journey already released (`ref`): it goes alone, late, with the journey's id and
 * its next index.
 */
export function releaseLate(
  w: EventWindow,
  wm: Watermark,
  ref: JourneyState,
  i: number,
  onJourney: (j: Journey) => void,
): void {
  const e = made(w, wm, i, ref.next++, true);
  w.release(i);
  // A new array: the one already handed out with the journey must not change under its reader.
  if (!ref.nodes.includes(e.node)) ref.nodes = [...ref.nodes, e.node];
  onJourney({ id: ref.id, nodes: ref.nodes, events: [e] });
}

/** The event in slot `i`, at `idx` in its journey. */
function made(w: EventWindow, wm: Watermark, i: number, idx: number, late: boolean): ReleasedEvent {
  const b = w.batch[i] as number;
  return new ReleasedEvent(
    (wm.list[w.node[i] as number] as NodeState).name,
    w.bufs[b] as Uint8Array,
    w.start[i] as number,
    w.end[i] as number,
    w.whole[b] as boolean,
    wm.time,
    w.rel[i] as number,
    idx,
    late,
    w.drop[i] as string,
    ((w.flags[i] as number) & HAS_K8S) !== 0,
    w.k8sNode[i] as string,
    w.namespace[i] as string,
    w.pod[i] as string,
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

/**
 * The tracking id @retrace/events's trackingId gives (the timestamp's hex, then orig_head's in 16
 * digits), from their halves, without a bigint.
 */
export function trackingIdOf(headHi: number, headLo: number, tsHi: number, tsLo: number): string {
  const ts = tsHi === 0 ? tsLo.toString(16) : tsHi.toString(16) + tsLo.toString(16).padStart(8, '0');
  return ts + headHi.toString(16).padStart(8, '0') + headLo.toString(16).padStart(8, '0');
}
