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
// (event-window.ts: no object per waiting event), times are numbers (ns after the first event),
// series are found in hash tables keyed by the skb address's halves; the release order is a heap
// updated lazily. A series' packet is fingerprinted at its first event and again only when the
// packet's length changes (encapsulation, decapsulation): what else rewrites a packet in flight
// (NAT, TTL, checksums, MACs) leaves the fingerprint as it was anyway.
import type { ClusterClock } from './clock.js';
import { EventKeyReader, EventKeys, bigOf } from './event-keys.js';
import { EventWindow, HAS_K8S, HAS_TS } from './event-window.js';
import { FingerprintWindow } from './fingerprint-window.js';
import { readPacketFieldsFromBytes } from './fingerprint.js';
import { releaseJourney, releaseLate } from './journey-release.js';
import { KeyedMinHeap } from './min-heap.js';
import { SortedEvent, type EventOrigin, type Journey, type SortItem } from './sorted-event.js';
import { MERGED, OPEN, RELEASED, type JourneyState, type NodeState, type Series } from './sorter-state.js';
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

/** What a released or merged journey keeps of its series (shared: never added to). */
const NO_SERIES: Series[] = [];
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
  private lastNode: NodeState | undefined;
  private readonly heap = new KeyedMinHeap<JourneyState>();
  private readonly fingerprints: FingerprintWindow<Series>;
  /** Series made since the last generation change (see NodeState.series). */
  private seriesInGeneration = 0;
  private untracked = 0;
  /** The batch being fed (pushBytes, pushRange), its buffer and its origin. */
  private feeding = -1;
  private feedingBuf: Uint8Array | undefined;
  private feedingOrigin: EventOrigin | undefined;

  private nEvents = 0;
  private nSeries = 0;
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
    this.fingerprints = new FingerprintWindow<Series>(Number(stitchWindowNs), this.maxBuffered);
  }

  stats(): SortStats {
    return {
      events: this.nEvents,
      series: this.nSeries,
      journeys: this.nJourneys,
      stitched: this.nStitched,
      unstitched: this.nUnstitched,
      late: this.nLate,
      forcedReleases: this.nForced,
      buffered: this.buffered,
    };
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
    for (let j = this.heap.pop(); j !== undefined; j = this.heap.pop()) {
      if (j.state !== OPEN) continue;
      if (j.key < j.latest) {
        this.rekey(j);
        continue;
      }
      this.release(j);
    }
  }

  // --- one event ---

  /** The event whose keys were just read (buf[start, end), of batch `b`), into the window and its journey. */
  private add(node: string, buf: Uint8Array, b: number, start: number, end: number, slot: number): void {
    const k = this.k;
    const wm = this.wm;
    let n = this.lastNode;
    if (n === undefined || n.name !== node) n = this.lastNode = wm.node(node, true);
    if (n.clockVersion !== this.clock.version) wm.refreshOffset(n);
    // Times: ns from the node's anchor (its first event's monotonic time), and after the base.
    let dm: number;
    let rel: number;
    if (k.hasTs) {
      if (!n.hasAnchor) this.anchorAt(n, bigOf(k.tsHi, k.tsLo), k.tsHi, k.tsLo);
      dm = (k.tsHi - n.anchorHi) * TWO_32 + (k.tsLo - n.anchorLo);
      rel = dm + n.anchorRel;
    } else {
      // No common section: the node's latest time (the monotonic time 0 before any).
      if (!wm.hasBase) wm.setBase(n.offset);
      rel = n.hasHw ? n.hw : Number(n.offset - wm.base);
      dm = NaN;
    }
    this.nEvents++;
    wm.heard(n, rel);

    let s: Series | undefined;
    let isNew = false;
    if (k.tracked) {
      s = n.lastSeries;
      if (
        s === undefined ||
        s.headLo !== k.headLo ||
        s.headHi !== k.headHi ||
        s.trackLo !== k.trackLo ||
        s.trackHi !== k.trackHi
      ) {
        const newer = k.trackHi > n.maxTrackHi || (k.trackHi === n.maxTrackHi && k.trackLo > n.maxTrackLo);
        s = newer ? undefined : findSeries(n, k);
        if (s === undefined) {
          s = this.newSeries(n, dm);
          isNew = true;
        }
        n.lastSeries = s;
      }
    } else {
      s = this.newSeries(n, dm);
      isNew = true;
    }
    if (k.packetEnd > k.packetStart && k.packetLen !== s.lastLen) {
      s.lastLen = k.packetLen;
      this.identify(s, buf, rel, isNew);
    }

    const w = this.win;
    const i = w.alloc(b);
    w.start[i] = start;
    w.end[i] = end;
    w.slot[i] = slot;
    w.node[i] = n.index;
    w.flags[i] = (k.hasTs ? HAS_TS : 0) | (k.hasK8s ? HAS_K8S : 0);
    w.dm[i] = k.hasTs ? dm : -Infinity;
    w.rel[i] = rel;
    w.next[i] = -1;
    w.drop[i] = k.dropReason;
    w.k8sNode[i] = k.k8sNode;
    w.namespace[i] = k.namespace;
    w.pod[i] = k.pod;
    w.series[i] = s;
    if (s.released !== undefined) {
      this.nLate++;
      releaseLate(w, wm, s.released, i, this.onJourney);
      return;
    }
    let j = s.journey;
    if (j === undefined) j = s.journey = this.newJourney(s, rel);
    if (j.tail < 0) j.head = i;
    else {
      w.next[j.tail] = i;
      if (rel < j.last) j.sorted = false;
    }
    j.tail = i;
    j.count++;
    j.last = rel;
    if (rel > j.latest) j.latest = rel;
    this.buffered++;
    if (this.buffered > this.maxBuffered) this.releaseForced();
    if (this.heap.peekKey() < wm.value) this.releaseReady();
  }

  /** The node's first timestamp: its times are kept from `mono` (the first event of all sets the base). */
  private anchorAt(n: NodeState, mono: bigint, hi: number, lo: number): void {
    if (!this.wm.hasBase) this.wm.setBase(mono + n.offset);
    this.wm.anchor(n, mono, hi, lo);
  }

  // --- series, fingerprints, journeys ---

  private newSeries(n: NodeState, dm: number): Series {
    const k = this.k;
    const s: Series = {
      node: n,
      tracked: k.tracked,
      headHi: k.headHi,
      headLo: k.headLo,
      trackHi: k.trackHi,
      trackLo: k.trackLo,
      untracked: k.tracked ? 0 : ++this.untracked,
      firstDm: dm,
      firstMono: dm === dm ? 0n : this.wm.base + BigInt(n.hw) - n.offset, // (NaN: no timestamp)
      journey: undefined,
      released: undefined,
      lastLen: -1,
      lastFpLo: 0,
      lastFpHi: 0,
      lastFpSet: false,
      maxTtl: -1,
    };
    this.nSeries++;
    if (!k.tracked) return s;
    n.series.set(s.headLo, s.headHi, s); // a newer packet in a reused buffer replaces the older one
    if (s.trackHi > n.maxTrackHi || (s.trackHi === n.maxTrackHi && s.trackLo > n.maxTrackLo)) {
      n.maxTrackHi = s.trackHi;
      n.maxTrackLo = s.trackLo;
    }
    if (++this.seriesInGeneration > this.rememberReleased / 2) this.nextGeneration();
    return s;
  }

  /** Forgets the older generation of series, but not the open ones in it. */
  private nextGeneration(): void {
    this.seriesInGeneration = 0;
    for (const n of this.wm.list) {
      const keep = n.series;
      const drop = n.older;
      drop.forEach((s, lo, hi) => {
        if (s.journey !== undefined && keep.get(lo, hi) === undefined) keep.set(lo, hi, s);
      });
      drop.clear();
      n.older = keep;
      n.series = drop; // emptied: reused for the new generation
    }
  }

  /** The series' packet changed (or is new): fingerprint it and stitch. */
  private identify(s: Series, buf: Uint8Array, ts: number, isNew: boolean): void {
    // The fingerprint's two 32-bit hashes stand for its text (fingerprintText): cheaper to make
    // and to look up, and a false match between two is as unlikely as 2^-64 per pair.
    const f = readPacketFieldsFromBytes(buf, this.k.packetStart, this.k.packetEnd);
    if (f === undefined) return;
    if (f.ttl > s.maxTtl) s.maxTtl = f.ttl;
    if (s.lastFpSet && f.keyLo === s.lastFpLo && f.keyHi === s.lastFpHi) return;
    s.lastFpLo = f.keyLo;
    s.lastFpHi = f.keyHi;
    s.lastFpSet = true;
    const m = this.fingerprints.match(s, f.keyLo, f.keyHi, ts, this.wm.fpExpiry);
    if (m !== undefined && m !== s) this.stitch(s, m, isNew);
  }

  /** `s` showed the fingerprint `m` showed first: one packet, so one journey. */
  private stitch(s: Series, m: Series, isNew: boolean): void {
    const mj = m.journey;
    if (mj !== undefined) {
      if (isNew) {
        s.journey = mj;
        mj.series.push(s);
      } else if (s.journey !== undefined && s.journey !== mj) this.merge(s.journey, mj);
      else return;
      this.observeHop(s, m);
    } else if (m.released !== undefined && isNew) {
      s.released = m.released; // a part of a journey already out: late
      this.observeHop(s, m);
    }
  }

  /** Two series of one packet on different nodes: a measurement for the cluster clock. */
  private observeHop(a: Series, b: Series): void {
    if (a.node === b.node) return;
    // Routers only decrement the TTL: the higher one was seen first. Equal (bridged) or unknown:
    // the earlier cluster time departed.
    let aFirst: boolean;
    if (a.maxTtl >= 0 && b.maxTtl >= 0 && a.maxTtl !== b.maxTtl) aFirst = a.maxTtl > b.maxTtl;
    else aFirst = this.firstRel(a) <= this.firstRel(b);
    const [from, to] = aFirst ? [a, b] : [b, a];
    this.clock.observeHop(from.node.name, firstMono(from), to.node.name, firstMono(to));
  }

  /** A series' first cluster time with its node's current offset. */
  private firstRel(s: Series): number {
    const n = s.node;
    if (s.firstDm === s.firstDm) return s.firstDm + this.wm.anchorRelOf(n);
    if (n.clockVersion !== this.clock.version) this.wm.refreshOffset(n);
    return Number(s.firstMono + n.offset - this.wm.base);
  }

  private newJourney(s: Series, ts: number): JourneyState {
    const j: JourneyState = {
      state: OPEN,
      head: -1,
      tail: -1,
      count: 0,
      series: [s],
      latest: ts,
      last: ts,
      key: ts,
      sorted: true,
      clockVersion: this.clock.version,
      id: '',
      next: 0,
      nodes: [],
    };
    this.heap.push(j, ts);
    return j;
  }

  /** Two open journeys turn out to be one packet: the smaller joins the larger. */
  private merge(a: JourneyState, b: JourneyState): void {
    const [into, from] = a.count >= b.count ? [a, b] : [b, a];
    for (const s of from.series) {
      s.journey = into;
      into.series.push(s);
    }
    if (from.head >= 0) {
      if (into.tail < 0) into.head = from.head;
      else this.win.next[into.tail] = from.head;
      into.tail = from.tail;
      into.last = from.last;
      into.count += from.count;
    }
    if (from.latest > into.latest) into.latest = from.latest;
    into.sorted = false;
    if (from.clockVersion !== into.clockVersion) into.clockVersion = -1; // recompute times on release
    from.state = MERGED;
    from.head = from.tail = -1;
    from.count = 0;
    from.series = NO_SERIES;
  }

  // --- release ---

  /** The journey got later events since it was queued: queue it again at its latest. */
  private rekey(j: JourneyState): void {
    j.key = j.latest;
    this.heap.push(j, j.key);
  }

  private releaseReady(): void {
    const wm = this.wm;
    while (this.heap.peekKey() < wm.value) {
      const j = this.heap.pop() as JourneyState;
      if (j.state !== OPEN) continue;
      if (j.latest >= wm.value) this.rekey(j);
      else this.release(j);
    }
  }

  private releaseForced(): void {
    while (this.buffered > this.maxBuffered) {
      const j = this.heap.pop();
      if (j === undefined) return;
      if (j.state !== OPEN) continue;
      if (j.key < j.latest) {
        this.rekey(j);
        continue;
      }
      this.nForced++;
      this.release(j);
    }
  }

  private release(j: JourneyState): void {
    j.state = RELEASED;
    const count = j.count;
    for (const s of j.series) {
      s.journey = undefined;
      s.released = j;
    }
    this.buffered -= count;
    this.nJourneys++;
    const series = j.series.length;
    j.series = NO_SERIES;
    const out = releaseJourney(this.win, this.wm, j, this.clock.version);
    if (out.nodes.length > 1) this.nStitched++;
    else this.nUnstitched += series;
    this.onJourney(out);
  }
}

function findSeries(n: NodeState, k: EventKeys): Series | undefined {
  const s = n.series.get(k.headLo, k.headHi);
  if (s !== undefined && s.trackLo === k.trackLo && s.trackHi === k.trackHi) return s;
  const o = n.older.get(k.headLo, k.headHi);
  return o !== undefined && o.trackLo === k.trackLo && o.trackHi === k.trackHi ? o : undefined;
}

/** A series' first monotonic time, exactly. */
function firstMono(s: Series): bigint {
  return s.firstDm === s.firstDm ? s.node.anchor + BigInt(s.firstDm) : s.firstMono;
}
