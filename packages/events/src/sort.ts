// `retis sort`: groups events into per-packet series. Each event with an `skb-tracking` section
// gets `tracking: {skb, idx}`; series are released oldest first (first-seen timestamp, then
// orig_head), and untracked events as single-event series, once more than maxBuffer events wait.
// OVS upcalls join their packet's series by queue id: ovs-vswitchd's events about the upcall
// (no skb), and the kernel's execution of the packet it sends back (a new skb, whose later
// events then join too). flow_lookup events get what ovs-vswitchd said of their flow
// (sort-ovs-flows.ts).
import type { Event, SkbTracking } from './gen/event.js';
import { MinHeap } from './heap.js';
import { OvsFlowInfo } from './sort-ovs-flows.js';
import { trackingId } from './tracking.js';

export interface EventSorterOptions {
  /** Events kept in memory before the oldest series is released; 0 = keep all until flush(). */
  maxBuffer?: number;
}

interface Series {
  key: string;
  skb: SkbTracking;
  events: Event[];
}

interface Untracked {
  ts: bigint;
  event: Event;
}

// Ids of released series whose next index we still remember, so that a late event of an already
// printed series keeps counting instead of restarting at 0. Bounded: oldest ids are forgotten.
const MAX_REMEMBERED = 100_000;

/** Map.set that forgets the oldest entries past MAX_REMEMBERED. */
function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > MAX_REMEMBERED) {
    const oldest = m.keys().next();
    if (!oldest.done) m.delete(oldest.value);
  }
}

const olderSeries = (a: Series, b: Series): boolean =>
  a.skb.timestamp !== b.skb.timestamp ? a.skb.timestamp < b.skb.timestamp : a.skb.orig_head < b.skb.orig_head;

export class EventSorter {
  private readonly maxBuffer: number;
  private readonly open = new Map<string, Series>();
  private readonly heap = new MinHeap<Series>(olderSeries);
  private readonly untracked: (Untracked | undefined)[] = []; // FIFO: [untrackedHead..] are waiting
  private untrackedHead = 0;
  private readonly released = new Map<string, number>();
  /** OVS: upcall queue id -> the series of the packet that went up. */
  private readonly upcalls = new Map<number, SkbTracking>();
  /** OVS: tracking id of a packet ovs-vswitchd sent back -> the series it continues. */
  private readonly continues = new Map<string, SkbTracking>();
  /** OVS: ovs-detrace answers, joined to the flow_lookup events of their flow. */
  private readonly flowInfo = new OvsFlowInfo();
  private buffered = 0;

  constructor(opts: EventSorterOptions = {}) {
    const max = opts.maxBuffer ?? 1000;
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`maxBuffer must be a whole number >= 0 (0 = unbounded), got ${max}`);
    this.maxBuffer = max;
  }

  /** Number of events waiting to be released. */
  get size(): number {
    return this.buffered;
  }

  /** Adds an event; returns the series this released (oldest first), usually none. */
  push(input: Event): Event[][] {
    this.flowInfo.record(input);
    const ev = this.flowInfo.enrich(input);
    const st = ev['skb-tracking'];
    const series = st ? this.seriesOf(ev, st) : this.ovsSeriesOf(ev);
    if (series) this.addTracked(ev, series);
    else this.untracked.push({ ts: ev.common?.timestamp ?? 0n, event: ev });
    this.buffered++;
    const out: Event[][] = [];
    while (this.maxBuffer > 0 && this.buffered > this.maxBuffer) {
      const s = this.releaseOldest();
      if (!s) break;
      out.push(s);
    }
    return out;
  }

  /** Releases everything still buffered, oldest first. */
  flush(): Event[][] {
    const out: Event[][] = [];
    for (let s = this.releaseOldest(); s; s = this.releaseOldest()) out.push(s);
    this.untracked.length = 0;
    this.untrackedHead = 0;
    return out;
  }

  /** The series a tracked event belongs to: its own, or the one its packet continues (OVS). */
  private seriesOf(ev: Event, st: SkbTracking): SkbTracking {
    const key = trackingId(st);
    const continued = this.continues.get(key);
    if (continued) return continued;
    const o = ev.ovs;
    if (o?.queue_id === undefined) return st;
    const up = this.upcalls.get(o.queue_id);
    if (o.event_type === 'action_execute' && up && trackingId(up) !== key) {
      remember(this.continues, key, up);
      return up;
    }
    if (o.event_type === 'upcall' || o.event_type === 'upcall_enqueue') remember(this.upcalls, o.queue_id, st);
    return st;
  }

  /** An ovs-vswitchd event (no skb) joins the series of the upcall it handles. */
  private ovsSeriesOf(ev: Event): SkbTracking | undefined {
    const q = ev.ovs?.queue_id;
    return q === undefined ? undefined : this.upcalls.get(q);
  }

  private addTracked(ev: Event, st: SkbTracking): void {
    const key = trackingId(st);
    let series = this.open.get(key);
    if (!series) {
      const skb = { orig_head: st.orig_head, timestamp: st.timestamp, skb: st.skb };
      series = { key, skb, events: [] };
      this.open.set(key, series);
      this.heap.push(series);
    }
    const first = this.released.get(key) ?? 0;
    const idx = first + series.events.length;
    series.events.push({ ...ev, tracking: { skb: { ...series.skb }, idx } });
  }

  private releaseOldest(): Event[] | undefined {
    const series = this.heap.peek();
    const loose = this.untracked[this.untrackedHead];
    if (loose && (!series || loose.ts <= series.skb.timestamp)) {
      this.untracked[this.untrackedHead++] = undefined; // let it be collected
      if (this.untrackedHead > 1024 && this.untrackedHead * 2 > this.untracked.length) {
        this.untracked.splice(0, this.untrackedHead);
        this.untrackedHead = 0;
      }
      this.buffered--;
      return [loose.event];
    }
    if (!series) return undefined;
    this.heap.pop();
    this.open.delete(series.key);
    this.buffered -= series.events.length;
    const before = this.released.get(series.key) ?? 0;
    this.released.delete(series.key); // re-inserted last: the Map's order is the forgetting order
    this.released.set(series.key, before + series.events.length);
    if (this.released.size > MAX_REMEMBERED) {
      const oldest = this.released.keys().next().value;
      if (oldest !== undefined) this.released.delete(oldest);
    }
    // Answers that came after a lookup was added (the usual order) join it now.
    return series.events.map((e) => this.flowInfo.enrich(e));
  }
}
