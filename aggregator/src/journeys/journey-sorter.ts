// `retis sort` for a cluster: events stream in from many nodes, each node's events in roughly
// its own time order, and come out as per-packet journeys across nodes.
//
// - Series: a node's events of one skb (same tracking id), as the single-node sorter groups them.
//   Events without skb-tracking are series of one event.
// - Journeys: series of the same packet on several nodes (or several skbs of it on one node),
//   joined by packet fingerprint (fingerprint.ts) seen within stitchWindowNs of each other
//   (fingerprint-window.ts).
// - Release: a journey waits until its latest event is behind the watermark (watermark.ts), so
//   that the other nodes' parts of it have time to arrive. The oldest journeys go early when
//   maxBufferedEvents is reached. An event for a journey already released is emitted on its
//   own, flagged late, with the same journey id and the next index.
// Hot path: an event's keys are read from its bytes straight into the window's columns
// (event-window.ts: no object per waiting event); series and journeys are numbers into tables of
// columns too (series-table.ts, journey-table.ts: nothing the collector moves or marks, however
// many are remembered); times are numbers (ns after the first event); series are found in hash
// tables keyed by the skb address's halves; the release order is a heap updated lazily. A series' packet is fingerprinted at its first event and again only when the
// packet's length changes (encapsulation, decapsulation): what else rewrites a packet in flight
// (NAT, TTL, checksums, MACs) leaves the fingerprint as it was anyway.
import type { ClusterClock } from './clock.js';
import { EventKeyReader, EventKeys, bigOf } from './event-keys.js';
import { EventWindow, HAS_TS } from './event-window.js';
import { FingerprintWindow } from './fingerprint-window.js';
import { readPacketFieldsFromBytes } from './fingerprint.js';
import { releaseJourney, releaseLate, type ReleaseContext } from './journey-release.js';
import { joinSeries, mergeJourneys } from './journey-lists.js';
import { JourneyTable, OPEN, RELEASED } from './journey-table.js';
import { KeyedMinHeap } from './min-heap.js';
import { SeriesSet } from './series-set.js';
import { FP_SET, type SeriesTable } from './series-table.js';
import { SortedEvent, type EventOrigin, type Journey, type SortItem } from './sorted-event.js';
import type { NodeState } from './sorter-state.js';
import { Watermark } from './watermark.js';

export interface SortStats {
  /** Events pushed. */
  events: number;
  /** Series created: one per (node, tracking id), one per untracked event. */
  series: number;
  /** Journeys released (late re-emissions not counted). */
  journeys: number;
  /** Released journeys that crossed two nodes or more. */
  stitched: number;
  /** Series of released journeys that stayed on one node (nothing of them seen elsewhere). */
  unstitched: number;
  /** Events that arrived after their journey was released. */
  late: number;
  /** Journeys released before the watermark because maxBufferedEvents was reached. */
  forcedReleases: number;
  /** Events waiting in open journeys. */
  buffered: number;
}

export interface JourneySorterOptions {
  clock: ClusterClock;
  onJourney: (j: Journey) => void;
  /** How far behind the slowest node's progress a journey is released (default 1 s). */
  latenessNs?: bigint;
  /** Fingerprints stitch series only this close in cluster time (default 2 s). */
  stitchWindowNs?: bigint;
  /** Events kept waiting before the oldest journeys are released early (default 200k). */
  maxBufferedEvents?: number;
  /** Released series and journeys remembered for late events (default 100k). */
  rememberReleased?: number;
}

export class SorterOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SorterOptionsError';
  }
}

const TWO_32 = 4294967296;

export class JourneySorter {
  private readonly clock: ClusterClock;
  private readonly reader = new EventKeyReader();
  private readonly k = new EventKeys();
  private readonly onJourney: (j: Journey) => void;
  private readonly maxBuffered: number;
  private readonly rememberReleased: number;
  private readonly wm: Watermark;
  private readonly win = new EventWindow();
  private readonly journeys = new JourneyTable();
  private readonly set: SeriesSet;
  private readonly series: SeriesTable;
  private readonly release_: ReleaseContext;
  private lastNode: NodeState | undefined;
  /** Per node pair, the least hop measurement sent to the clock since its version last changed. */
  private readonly hopMin = new Map<number, number>();
  private hopVersion = -1;
  /** Journeys by the cluster time they may go at (lazily: an entry holds its journey). */
  private readonly heap = new KeyedMinHeap<number>();
  private readonly fingerprints: FingerprintWindow;
  /** The batch being fed (pushBytes, pushRange), its buffer and its origin. */
  private feeding = -1;
  private feedingBuf: Uint8Array | undefined;
  private feedingOrigin: EventOrigin | undefined;

  private nEvents = 0;
  private nJourneys = 0;
  private nStitched = 0;
  private nUnstitched = 0;
  private nLate = 0;
  private nForced = 0;
  private buffered = 0;

  constructor(opts: JourneySorterOptions) {
    this.clock = opts.clock;
    this.onJourney = opts.onJourney;
    const latenessNs = opts.latenessNs ?? 1_000_000_000n;
    const stitchWindowNs = opts.stitchWindowNs ?? 2_000_000_000n;
    this.maxBuffered = opts.maxBufferedEvents ?? 200_000;
    this.rememberReleased = opts.rememberReleased ?? 100_000;
    if (latenessNs < 0n) throw new SorterOptionsError(`latenessNs must be >= 0, got ${latenessNs}`);
    if (stitchWindowNs < 0n) throw new SorterOptionsError(`stitchWindowNs must be >= 0, got ${stitchWindowNs}`);
    for (const [name, v] of [
      ['maxBufferedEvents', this.maxBuffered],
      ['rememberReleased', this.rememberReleased],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new SorterOptionsError(`${name} must be a whole number >= 1, got ${v}`);
    this.wm = new Watermark(this.clock, latenessNs, stitchWindowNs);
    this.set = new SeriesSet(this.journeys, this.wm, this.rememberReleased);
    this.series = this.set.t;
    this.fingerprints = new FingerprintWindow(
      Number(stitchWindowNs),
      this.maxBuffered,
      (s) => this.set.hold(s),
      (s) => this.set.drop(s),
    );
    this.release_ = { w: this.win, wm: this.wm, series: this.series, journeys: this.journeys };
  }

  stats(): SortStats {
    return {
      events: this.nEvents,
      series: this.set.made,
      journeys: this.nJourneys,
      stitched: this.nStitched,
      unstitched: this.nUnstitched,
      late: this.nLate,
      forcedReleases: this.nForced,
      buffered: this.buffered,
    };
  }

  /** Series and journeys the sorter holds (open, or remembered for late events): its memory. */
  held(): { series: number; journeys: number } {
    return { series: this.series.live, journeys: this.journeys.live };
  }

  /** The current watermark (cluster ns), or undefined before any active node sent events. */
  currentWatermark(): bigint | undefined {
    return this.wm.current();
  }

  /**
   * Whether a node's progress holds the watermark back. Nodes are active from their first event;
   * set a finished or lost node inactive so that the others' journeys are not held for it.
   */
  setNodeActive(node: string, active: boolean): void {
    if (this.wm.setActive(node, active)) this.releaseReady();
  }

  /**
   * Adds an event, its keys read from its bytes (throws ProtoDecodeError, changing nothing, if
   * they are malformed). A SortedEvent's origin and slot go with it.
   */
  push(item: SortItem | SortedEvent): void {
    const raw = item.raw;
    this.reader.read(raw, 0, raw.length, this.k);
    const origin = item instanceof SortedEvent ? item.origin : undefined;
    const b = this.win.open(raw, true, origin);
    this.add(item.node, raw, b, 0, raw.length, item instanceof SortedEvent ? item.slot : 0);
    this.win.close(b);
  }

  /**
   * Adds an event of a batch as the agent link received it (`raw` a view into the batch's
   * buffer, which is held, not copied, while its events wait): throws ProtoDecodeError, changing
   * nothing, when it is malformed. `origin` is told `slot` once the event is stored.
   */
  pushBytes(node: string, raw: Uint8Array, origin: EventOrigin | undefined, slot: number): void {
    let buf = this.feedingBuf;
    if (buf === undefined || raw.buffer !== buf.buffer) buf = new Uint8Array(raw.buffer);
    this.pushRange(node, buf, raw.byteOffset, raw.byteOffset + raw.length, origin, slot);
  }

  /**
   * Adds the event in buf[start, end) (buf the buffer of its batch: the same object for all of
   * them, held, not copied, while they wait): throws ProtoDecodeError, changing nothing, when it
   * is malformed. `origin` is told `slot` once the event is stored.
   */
  pushRange(
    node: string,
    buf: Uint8Array,
    start: number,
    end: number,
    origin: EventOrigin | undefined,
    slot: number,
  ): void {
    this.reader.read(buf, start, end, this.k);
    if (buf !== this.feedingBuf || origin !== this.feedingOrigin) {
      if (this.feeding >= 0) this.win.close(this.feeding);
      this.feedingBuf = buf;
      this.feedingOrigin = origin;
      this.feeding = this.win.open(buf, false, origin);
    }
    this.add(node, buf, this.feeding, start, end, slot);
  }

  /** The batch being fed is done: its buffer goes with its last event. */
  endBatch(): void {
    if (this.feeding >= 0) this.win.close(this.feeding);
    this.feeding = -1;
    this.feedingBuf = undefined;
    this.feedingOrigin = undefined;
  }

  /**
   * Wall-clock time for quiet nodes (call it periodically, e.g. every 100 ms): a node that sent
   * nothing for latenessNs stops holding the watermark back, and what it held is released.
   */
  tick(nowWallNs: bigint): void {
    if (this.wm.tick(nowWallNs)) this.releaseReady();
  }

  /** Releases every open journey (end of the trace). */
  flush(): void {
    const jt = this.journeys;
    while (this.heap.size > 0) {
      const j = this.heap.pop() as number;
      if (jt.state[j] === OPEN) {
        if ((jt.key[j] as number) < (jt.latest[j] as number)) this.rekey(j);
        else this.release(j);
      }
      jt.drop(j); // the heap entry's hold
    }
  }

  // --- one event ---

  /** The event whose keys were just read (buf[start, end), of batch `b`), into the window and its journey. */
  private add(node: string, buf: Uint8Array, b: number, start: number, end: number, slot: number): void {
    const k = this.k;
    const wm = this.wm;
    const st = this.series;
    const jt = this.journeys;
    let n = this.lastNode;
    if (n === undefined || n.name !== node) n = this.lastNode = wm.node(node, true);
    if (n.clockVersion !== this.clock.version) wm.refreshOffset(n);
    // Times: ns from the node's anchor (its first event's monotonic time), and after the base.
    let dm: number;
    let rel: number;
    if (k.hasTs) {
      if (!n.hasAnchor) this.anchorAt(n, bigOf(k.tsHi, k.tsLo), k.tsHi >>> 0, k.tsLo >>> 0);
      dm = ((k.tsHi >>> 0) - n.anchorHi) * TWO_32 + ((k.tsLo >>> 0) - n.anchorLo);
      rel = dm + n.anchorRel;
    } else {
      // No common section: the node's latest time (the monotonic time 0 before any).
      if (!wm.hasBase) wm.setBase(n.offset);
      rel = n.hasHw ? n.hw : Number(n.offset - wm.base);
      dm = NaN;
    }
    this.nEvents++;
    wm.heard(n, rel);

    let s = -1;
    let isNew = false;
    if (k.tracked) {
      s = n.lastSeries;
      if (
        s < 0 ||
        st.headLo[s] !== k.headLo ||
        st.headHi[s] !== k.headHi ||
        st.trackLo[s] !== k.trackLo ||
        st.trackHi[s] !== k.trackHi
      ) {
        s = this.set.find(n, k);
        if (s < 0) {
          s = this.set.make(n, k, dm);
          isNew = true;
        }
        // The node's last series: held while it is.
        this.set.hold(s);
        if (n.lastSeries >= 0) this.set.drop(n.lastSeries);
        n.lastSeries = s;
      }
    } else {
      s = this.set.make(n, k, dm);
      isNew = true;
    }
    if (k.packetEnd > k.packetStart && k.packetLen !== st.lastLen[s]) {
      st.lastLen[s] = k.packetLen;
      this.identify(s, buf, rel, isNew);
    }

    const w = this.win;
    const i = w.alloc(b);
    w.start[i] = start;
    w.end[i] = end;
    w.slot[i] = slot;
    w.node[i] = n.index;
    w.flags[i] = k.hasTs ? HAS_TS : 0;
    w.dm[i] = k.hasTs ? dm : -Infinity;
    w.rel[i] = rel;
    w.next[i] = -1;
    w.drop[i] = k.dropReason;
    w.k8s[i] = k.k8s;
    w.series[i] = s;
    const released = st.released[s] as number;
    if (released >= 0) {
      this.nLate++;
      releaseLate(this.release_, released, i, this.onJourney);
      this.set.sweep(s); // an untracked series nothing else holds
      return;
    }
    let j = st.journey[s] as number;
    if (j < 0) j = this.newJourney(s, rel);
    const tail = jt.tail[j] as number;
    if (tail < 0) jt.head[j] = i;
    else {
      w.next[tail] = i;
      if (rel < (jt.last[j] as number)) jt.sorted[j] = 0;
    }
    jt.tail[j] = i;
    jt.count[j] = (jt.count[j] as number) + 1;
    jt.last[j] = rel;
    if (rel > (jt.latest[j] as number)) jt.latest[j] = rel;
    this.buffered++;
    if (this.buffered > this.maxBuffered) this.releaseForced();
    if (this.heap.peekKey() < wm.value) this.releaseReady();
  }

  /** The node's first timestamp: its times are kept from `mono` (the first event of all sets the base). */
  private anchorAt(n: NodeState, mono: bigint, hi: number, lo: number): void {
    if (!this.wm.hasBase) this.wm.setBase(mono + n.offset);
    this.wm.anchor(n, mono, hi, lo);
  }

  /** The series' packet changed (or is new): fingerprint it and stitch. */
  private identify(s: number, buf: Uint8Array, ts: number, isNew: boolean): void {
    // The fingerprint's two 32-bit hashes stand for its text (fingerprintText): cheaper to make
    // and to look up, and a false match between two is as unlikely as 2^-64 per pair.
    const f = readPacketFieldsFromBytes(buf, this.k.packetStart, this.k.packetEnd);
    if (f === undefined) return;
    const st = this.series;
    if (f.ttl > (st.maxTtl[s] as number)) st.maxTtl[s] = f.ttl;
    const set = ((st.flags[s] as number) & FP_SET) !== 0;
    if (set && f.keyLo === st.fpLo[s] && f.keyHi === st.fpHi[s]) return;
    st.fpLo[s] = f.keyLo;
    st.fpHi[s] = f.keyHi;
    st.flags[s] = (st.flags[s] as number) | FP_SET;
    const m = this.fingerprints.match(s, f.keyLo, f.keyHi, ts, this.wm.fpExpiry);
    if (m >= 0 && m !== s) this.stitch(s, m, isNew);
  }

  /** `s` showed the fingerprint `m` showed first: one packet, so one journey. */
  private stitch(s: number, m: number, isNew: boolean): void {
    const st = this.series;
    const mj = st.journey[m] as number;
    if (mj >= 0) {
      const sj = st.journey[s] as number;
      if (isNew) this.joinSeries(mj, s);
      else if (sj >= 0 && sj !== mj) this.merge(sj, mj);
      else return;
      this.observeHop(s, m);
    } else if ((st.released[m] as number) >= 0 && isNew) {
      // a part of a journey already out: late
      const j = st.released[m] as number;
      st.released[s] = j;
      this.journeys.hold(j);
      this.observeHop(s, m);
    }
  }

  /** Two series of one packet on different nodes: a measurement for the cluster clock. */
  private observeHop(a: number, b: number): void {
    const st = this.series;
    if (st.node[a] === st.node[b]) return;
    // Routers only decrement the TTL: the higher one was seen first. Equal (bridged) or unknown:
    // the earlier cluster time departed.
    const ta = st.maxTtl[a] as number;
    const tb = st.maxTtl[b] as number;
    const ra = this.set.firstRel(a);
    const rb = this.set.firstRel(b);
    const aFirst = ta >= 0 && tb >= 0 && ta !== tb ? ta > tb : ra <= rb;
    const [from, to] = aFirst ? [a, b] : [b, a];
    const nodes = this.wm.list;
    const nf = nodes[st.node[from] as number] as NodeState;
    const nt = nodes[st.node[to] as number] as NodeState;
    // What the clock measures, (arrival - departure) on the boot offsets alone, here as a number:
    // one not below the last one sent for the pair since the clock last changed cannot be a new
    // minimum there either, and is not sent (most are not: the clock works in bigints).
    const delta = aFirst ? rb - nt.correction - (ra - nf.correction) : ra - nt.correction - (rb - nf.correction);
    if (this.hopVersion !== this.clock.version) {
      this.hopMin.clear();
      this.hopVersion = this.clock.version;
    }
    const pair = nf.index * 65536 + nt.index;
    const min = this.hopMin.get(pair);
    if (min !== undefined && min <= delta) return;
    this.hopMin.set(pair, delta);
    this.clock.observeHop(nf.name, this.set.firstMono(from), nt.name, this.set.firstMono(to));
  }

  // --- journeys: held while open, by heap entries and by their series (JourneyTable) ---

  private newJourney(s: number, ts: number): number {
    const j = this.journeys.alloc(ts, this.clock.version);
    this.joinSeries(j, s);
    this.journeys.hold(j);
    this.heap.push(j, ts);
    return j;
  }

  /** Series `s` (new) is part of open journey `j`, which holds it. */
  private joinSeries(j: number, s: number): void {
    joinSeries(this.journeys, this.series, j, s);
    this.set.hold(s);
  }

  /** Two open journeys turn out to be one packet: the smaller joins the larger. */
  private merge(a: number, b: number): void {
    const jt = this.journeys;
    const from = mergeJourneys(jt, this.series, this.win, a, b);
    jt.drop(from); // no longer open (its heap entries still hold it)
  }

  // --- release ---

  /** The journey got later events since it was queued: queue it again at its latest. */
  private rekey(j: number): void {
    const jt = this.journeys;
    jt.key[j] = jt.latest[j] as number;
    jt.hold(j);
    this.heap.push(j, jt.key[j] as number);
  }

  private releaseReady(): void {
    const wm = this.wm;
    const jt = this.journeys;
    while (this.heap.peekKey() < wm.value) {
      const j = this.heap.pop() as number;
      if (jt.state[j] === OPEN) {
        if ((jt.latest[j] as number) >= wm.value) this.rekey(j);
        else this.release(j);
      }
      jt.drop(j); // the heap entry's hold
    }
  }

  private releaseForced(): void {
    const jt = this.journeys;
    while (this.buffered > this.maxBuffered && this.heap.size > 0) {
      const j = this.heap.pop() as number;
      if (jt.state[j] === OPEN) {
        if ((jt.key[j] as number) < (jt.latest[j] as number)) this.rekey(j);
        else {
          this.nForced++;
          this.release(j);
        }
      }
      jt.drop(j); // the heap entry's hold
    }
  }

  private release(j: number): void {
    const jt = this.journeys;
    const st = this.series;
    jt.state[j] = RELEASED;
    const count = jt.count[j] as number;
    const series = jt.seriesCount[j] as number;
    const out = releaseJourney(this.release_, j, this.clock.version);
    // Its series now say it is out (their late events are late), and hold it for them.
    for (let s = jt.seriesHead[j] as number; s >= 0;) {
      const next = st.nextInJourney[s] as number;
      st.journey[s] = -1;
      st.released[s] = j;
      jt.hold(j);
      this.set.drop(s); // no longer in an open journey
      s = next;
    }
    jt.seriesHead[j] = jt.seriesTail[j] = -1;
    jt.seriesCount[j] = 0;
    jt.drop(j); // no longer open
    this.buffered -= count;
    this.nJourneys++;
    if (out.nodes.length > 1) this.nStitched++;
    else this.nUnstitched += series;
    this.onJourney(out);
  }
}
