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
// Hot path: one SortedEvent per event and map lookups by node and orig_head; the release order is
// a heap updated lazily. A series' packet is fingerprinted at its first event and again only when
// the packet's length changes (encapsulation, decapsulation): what else rewrites a packet in
// flight (NAT, TTL, checksums, MACs) leaves the fingerprint as it was anyway.
import { trackingId } from '@retrace/events';
import type { ClusterClock } from './clock.js';
import { FingerprintWindow } from './fingerprint-window.js';
import { readPacketFieldsFromBytes } from './fingerprint.js';
import { KeyedMinHeap } from './min-heap.js';
import { SortKeyReader } from './sort-keys.js';
import { SortedEvent, sortEvents, type Journey, type SortItem } from './sorted-event.js';
import { MERGED, OPEN, RELEASED, seriesOf, type JourneyState, type NodeState, type Series } from './sorter-state.js';
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

/** What a released or merged journey keeps of its lists (shared: never added to). */
const NO_EVENTS: SortedEvent[] = [];
const NO_SERIES: Series[] = [];

export class JourneySorter {
  private readonly clock: ClusterClock;
  private readonly keys = new SortKeyReader();
  private readonly onJourney: (j: Journey) => void;
  private readonly maxBuffered: number;
  private readonly rememberReleased: number;
  private readonly wm: Watermark;
  private lastNode: NodeState | undefined;
  private readonly heap = new KeyedMinHeap<JourneyState>();
  private readonly fingerprints: FingerprintWindow<Series>;
  /** Series made since the last generation change (see NodeState.series). */
  private seriesInGeneration = 0;
  private untracked = 0;

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
    this.fingerprints = new FingerprintWindow<Series>(stitchWindowNs, this.maxBuffered);
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

  /** Adds an event (read from its bytes when given as a SortItem: throws ProtoDecodeError if malformed). */
  push(item: SortItem | SortedEvent): void {
    const se = item instanceof SortedEvent ? item : new SortedEvent(item.node, item.raw, this.keys);
    const wm = this.wm;
    let n = this.lastNode;
    if (n === undefined || n.name !== se.node) n = this.lastNode = wm.node(se.node, true);
    if (n.clockVersion !== this.clock.version) wm.refreshOffset(n);
    const mono = se.timestamp ?? (n.hasHw ? n.hw - n.offset : 0n);
    const ts = mono + n.offset;
    se.clusterTs = ts;
    this.nEvents++;
    wm.heard(n, ts);

    let s: Series | undefined;
    let isNew = false;
    if (se.tracked) {
      s = n.lastSeries;
      if (s === undefined || s.head !== se.trackHead || s.trackTs !== se.trackTs) {
        s = se.trackTs > n.maxTracking ? undefined : findSeries(n, se.trackHead, se.trackTs);
        if (s === undefined) {
          s = this.newSeries(n, se, mono);
          isNew = true;
        }
        n.lastSeries = s;
      }
      // The series' bigints instead of the event's own: those die young, and a waiting event
      // keeps less alive.
      se.trackHead = s.head;
      se.trackTs = s.trackTs;
    } else {
      s = this.newSeries(n, se, mono);
      isNew = true;
    }
    if (se.packetEnd > se.packetStart && se.packetLen !== s.lastLen) {
      s.lastLen = se.packetLen;
      this.identify(s, se, ts, isNew);
    }
    if (s.released !== undefined) {
      this.emitLate(s.released, se);
      return;
    }
    let j = s.journey;
    if (j === undefined) j = s.journey = this.newJourney(s, ts);
    const evs = j.events;
    const last = evs[evs.length - 1];
    if (last !== undefined && ts < last.clusterTs) j.sorted = false;
    evs.push(se);
    if (ts > j.latest) j.latest = ts;
    this.buffered++;
    if (this.buffered > this.maxBuffered) this.releaseForced();
    if (this.heap.peekKey() < wm.rel) this.releaseReady();
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

  // --- series, fingerprints, journeys ---

  private newSeries(n: NodeState, e: SortedEvent, mono: bigint): Series {
    const s: Series = {
      node: n,
      tracked: e.tracked,
      head: e.trackHead,
      trackTs: e.trackTs,
      untracked: e.tracked ? 0 : ++this.untracked,
      event: e.tracked ? undefined : e,
      firstMono: mono,
      journey: undefined,
      released: undefined,
      lastLen: -1,
      lastFpLo: 0,
      lastFpHi: 0,
      lastFpSet: false,
      maxTtl: -1,
    };
    this.nSeries++;
    if (!e.tracked) return s;
    n.series.set(s.head, s); // a newer packet in a reused buffer replaces the older one
    if (s.trackTs > n.maxTracking) n.maxTracking = s.trackTs;
    if (++this.seriesInGeneration > this.rememberReleased / 2) this.nextGeneration();
    return s;
  }

  /** Forgets the older generation of series, but not the open ones in it. */
  private nextGeneration(): void {
    this.seriesInGeneration = 0;
    for (const n of this.wm.nodes.values()) {
      const keep = n.series;
      const drop = n.older;
      for (const [head, s] of drop) if (s.journey !== undefined && !keep.has(head)) keep.set(head, s);
      drop.clear();
      n.older = keep;
      n.series = drop; // emptied: reused for the new generation
    }
  }

  /** The series' packet changed (or is new): fingerprint it and stitch. */
  private identify(s: Series, e: SortedEvent, ts: bigint, isNew: boolean): void {
    // The fingerprint's two 32-bit hashes stand for its text (fingerprintText): cheaper to make
    // and to look up, and a false match between two is as unlikely as 2^-64 per pair.
    const f = readPacketFieldsFromBytes(e.raw, e.packetStart, e.packetEnd);
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
    else aFirst = a.firstMono + this.wm.offsetOf(a.node) <= b.firstMono + this.wm.offsetOf(b.node);
    if (aFirst) this.clock.observeHop(a.node.name, a.firstMono, b.node.name, b.firstMono);
    else this.clock.observeHop(b.node.name, b.firstMono, a.node.name, a.firstMono);
  }

  private newJourney(s: Series, ts: bigint): JourneyState {
    const j: JourneyState = {
      state: OPEN,
      events: [],
      series: [s],
      latest: ts,
      key: ts,
      sorted: true,
      clockVersion: this.clock.version,
      id: '',
      next: 0,
      nodes: [],
    };
    this.heap.push(j, Number(ts - this.wm.base));
    return j;
  }

  /** Two open journeys turn out to be one packet: the smaller joins the larger. */
  private merge(a: JourneyState, b: JourneyState): void {
    const [into, from] = a.events.length >= b.events.length ? [a, b] : [b, a];
    for (const s of from.series) {
      s.journey = into;
      into.series.push(s);
    }
    for (const e of from.events) into.events.push(e);
    if (from.latest > into.latest) into.latest = from.latest;
    into.sorted = false;
    if (from.clockVersion !== into.clockVersion) into.clockVersion = -1; // recompute times on release
    from.state = MERGED;
    from.events = NO_EVENTS;
    from.series = NO_SERIES;
  }

  // --- release ---

  /** The journey got later events since it was queued: queue it again at its latest. */
  private rekey(j: JourneyState): void {
    j.key = j.latest;
    this.heap.push(j, Number(j.key - this.wm.base));
  }

  private releaseReady(): void {
    // Number() is monotonic: a key below the watermark as numbers is below it as bigints.
    const wm = this.wm;
    while (this.heap.peekKey() < wm.rel) {
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
    const evs = j.events;
    // The clock was refined since these times were computed: recompute them all with the
    // latest offsets, so that each node's events keep their monotonic order.
    if (j.clockVersion !== this.clock.version) {
      for (const e of evs) {
        const mono = e.timestamp;
        const n = this.wm.nodes.get(e.node);
        if (mono !== undefined && n !== undefined) e.clusterTs = mono + this.wm.offsetOf(n);
      }
      j.sorted = false;
    }
    if (!j.sorted) sortEvents(evs);
    const first = seriesOf(evs[0] as SortedEvent, j.series);
    const id = first.tracked
      ? `${first.node.name}/${trackingId({ orig_head: first.head, timestamp: first.trackTs, skb: 0n })}`
      : `${first.node.name}/u${first.untracked}`;
    const nodes: string[] = [];
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i] as SortedEvent;
      e.idx = i;
      if (nodes.length === 0 || (nodes[nodes.length - 1] !== e.node && !nodes.includes(e.node))) nodes.push(e.node);
    }
    j.id = id;
    j.next = evs.length;
    j.nodes = nodes;
    for (const s of j.series) {
      s.journey = undefined;
      s.released = j;
      s.event = undefined;
    }
    this.buffered -= evs.length;
    this.nJourneys++;
    if (nodes.length > 1) this.nStitched++;
    else this.nUnstitched += j.series.length;
    j.series = NO_SERIES;
    j.events = NO_EVENTS;
    this.onJourney({ id, nodes, events: evs });
  }

  private emitLate(ref: JourneyState, se: SortedEvent): void {
    se.late = true;
    se.idx = ref.next++;
    // A new array: the one already handed out with the journey must not change under its reader.
    if (!ref.nodes.includes(se.node)) ref.nodes = [...ref.nodes, se.node];
    this.nLate++;
    this.onJourney({ id: ref.id, nodes: ref.nodes, events: [se] });
  }
}

function findSeries(n: NodeState, head: bigint, trackTs: bigint): Series | undefined {
  const s = n.series.get(head);
  if (s !== undefined && s.trackTs === trackTs) return s;
  const o = n.older.get(head);
  return o !== undefined && o.trackTs === trackTs ? o : undefined;
}
