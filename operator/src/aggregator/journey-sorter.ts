// `retis sort` for a cluster: events stream in from many nodes, each node's events in roughly
// its own time order, and come out as per-packet journeys across nodes.
//
// - Series: a node's events of one skb (same tracking id), as the single-node sorter groups them.
//   Events without skb-tracking are series of one event.
// - Journeys: series of the same packet on several nodes (or several skbs of it on one node),
//   joined by packet fingerprint (fingerprint.ts) seen within stitchWindowNs of each other.
// - Release: a journey waits until its latest event is behind the watermark, the slowest active
//   node's progress minus latenessNs, so that the other nodes' parts of it have time to arrive.
//   A node that sends nothing for latenessNs of wall time (tick() keeps the time) stops holding
//   the watermark back until it sends again, so output is not stuck behind quiet nodes; when all
//   are quiet, everything is released. The oldest journeys go early when maxBufferedEvents is
//   reached.
//   An event for a journey already released is emitted on its own, flagged late, with the same
//   journey id and the next index.
// Hot path: one SortedEvent per event and map lookups by node and orig_head; the release order is
// a heap updated lazily. A series' packet is fingerprinted at its first event and again only when
// the packet's length changes (encapsulation, decapsulation): what else rewrites a packet in
// flight (NAT, TTL, checksums, MACs) leaves the fingerprint as it was anyway.
import { decodeMessage, trackingId, type Event, type Journey as JourneySection } from '@retrace/events';
import type { ClusterClock } from './clock.js';
import { readPacketFieldsFromBytes } from './fingerprint.js';
import { KeyedMinHeap } from './min-heap.js';
import { PairTable } from './pair-table.js';
import { SortKeys, readSortKeys } from './sort-keys.js';

export interface SortItem {
  /** The node the event came from (its agent's registration name). */
  node: string;
  /** The event's protobuf encoding, carried through untouched. */
  raw: Uint8Array;
}

/**
 * An event in the sorter and in released journeys: its bytes, its sort keys (it is its own
 * SortKeys, read when it is made) and its place. Throws ProtoDecodeError for malformed bytes.
 */
/** Where an event came from, told when the event is stored (the aggregator's acknowledgements). */
export interface EventOrigin {
  markStored(slot: number): void;
}

export class SortedEvent extends SortKeys {
  private decoded: Event | undefined;
  /** Its batch, and its place among the batch's events fed (set by the aggregator). */
  origin: EventOrigin | undefined;
  slot = 0;
  constructor(
    /** The node the event came from (its agent's registration name; k8sNode is what the event says). */
    readonly node: string,
    raw: Uint8Array,
    /** ns since the Unix epoch on the cluster clock (set by the sorter). */
    public clusterTs = 0n,
    /** Place in the journey: 0, 1, ... in order; late events continue the count. */
    public idx = 0,
    /** Arrived after its journey had been released. */
    public late = false,
  ) {
    super();
    readSortKeys(raw, this);
  }

  /** The whole event, decoded on first use (the sorter and the store read only the keys). */
  get event(): Event {
    return (this.decoded ??= decodeMessage<Event>('Event', this.raw));
  }
}

export interface Journey {
  /** `${node}/${tracking id}` of the journey's first series (`${node}/u${n}` when untracked). */
  id: string;
  /** Nodes the journey crossed so far, in the order its events reached them. */
  nodes: string[];
  /** Ordered by cluster time (ties: same node's monotonic time, then arrival). */
  events: SortedEvent[];
}

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

/** The Journey section of a stored or forwarded event (`journey`, field 17 of Event). */
export function journeySection(e: SortedEvent, j: Journey): JourneySection {
  return { id: j.id, idx: e.idx, cluster_ts: e.clusterTs, late: e.late, nodes: j.nodes.length };
}

const OPEN = 0;
const RELEASED = 1;
const MERGED = 2;
/** Above any cluster time: the watermark when no active node holds it back. */
const NO_LIMIT = 1n << 64n;
const BEFORE_ALL = -(1n << 64n);
/** What a released or merged journey keeps of its lists (shared: never added to). */
const NO_EVENTS: SortedEvent[] = [];
const NO_SERIES: Series[] = [];

interface NodeState {
  name: string;
  offset: bigint;
  clockVersion: number;
  hw: bigint;
  hasHw: boolean;
  active: boolean;
  /** No event for latenessNs of wall time: left out of the watermark until the next one. */
  quiet: boolean;
  /** Push counter at the node's last event. */
  lastPush: number;
  /**
   * Series by orig_head (the tracking timestamp is checked on use), in two generations: new
   * series go into `series`; when the sorter has made rememberReleased / 2 of them, `older` is
   * dropped (keeping its open series) and `series` becomes `older`. Forgetting a generation at a
   * time costs nothing per series, where forgetting series one by one costs a map deletion each.
   */
  series: Map<bigint, Series>;
  older: Map<bigint, Series>;
  /** Highest tracking timestamp of the node's series: a higher one is a new series for sure. */
  maxTracking: bigint;
  /** The series of the node's previous event: a packet's events tend to come in a row. */
  lastSeries: Series | undefined;
}

interface Series {
  node: NodeState;
  /** skb-tracking's orig_head and timestamp (tracked series); events share these bigints. */
  tracked: boolean;
  head: bigint;
  trackTs: bigint;
  untracked: number;
  /** An untracked series' one event, until released (to tell which series an event is of). */
  event: SortedEvent | undefined;
  firstMono: bigint;
  /** The open journey the series is part of. */
  journey: JourneyState | undefined;
  /** The released journey it was part of (later events are late). */
  released: JourneyState | undefined;
  /** packet.len when last fingerprinted (-1: never). */
  lastLen: number;
  /** Key of the last fingerprint (PacketFields.keyLo/keyHi); lastFpSet false before any. */
  lastFpLo: number;
  lastFpHi: number;
  lastFpSet: boolean;
  /** Highest innermost TTL seen (-1: none): the earlier hop has the higher one. */
  maxTtl: number;
}

/** A journey while open, then (state RELEASED) what late events need of it. */
interface JourneyState {
  state: number;
  events: SortedEvent[];
  series: Series[];
  latest: bigint;
  /** Heap key: a lower bound of `latest` (the heap is updated lazily). */
  key: bigint;
  sorted: boolean;
  clockVersion: number;
  /** Set on release. */
  id: string;
  /** Index of the next late event. */
  next: number;
  nodes: string[];
}

interface FpEntry {
  lo: number;
  hi: number;
  series: Series;
  ts: bigint;
}

export class JourneySorter {
  private readonly clock: ClusterClock;
  private readonly onJourney: (j: Journey) => void;
  private readonly latenessNs: bigint;
  private readonly stitchWindowNs: bigint;
  private readonly maxBuffered: number;
  private readonly rememberReleased: number;

  private readonly nodes = new Map<string, NodeState>();
  /** Nodes whose progress holds the watermark (active, not quiet, with events). */
  private holding: NodeState[] = [];
  private lastNode: NodeState | undefined;
  private minNode: NodeState | undefined;
  private watermark = BEFORE_ALL;
  /** Heap keys are ns after `base` (the first event's cluster time) as numbers: exact for 104 days. */
  private base = 0n;
  private hasBase = false;
  private watermarkRel = -Infinity;
  /** Fingerprints seen before this (the watermark minus the stitching window) are forgotten. */
  private fpExpiry = BEFORE_ALL;
  private readonly heap = new KeyedMinHeap<JourneyState>();
  /** Fingerprint key -> the first series that showed it (within the stitching window). */
  private readonly fps = new PairTable<FpEntry>(16_384);
  private fpQueue: FpEntry[] = [];
  private fpHead = 0;
  /** Series made since the last generation change (see NodeState.series). */
  private seriesInGeneration = 0;
  private readonly ticks: { wall: bigint; pushes: number }[] = [];
  private idlePushes = 0;
  private pushes = 0;
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
    this.latenessNs = opts.latenessNs ?? 1_000_000_000n;
    this.stitchWindowNs = opts.stitchWindowNs ?? 2_000_000_000n;
    this.maxBuffered = opts.maxBufferedEvents ?? 200_000;
    this.rememberReleased = opts.rememberReleased ?? 100_000;
    if (this.latenessNs < 0n) throw new SorterOptionsError(`latenessNs must be >= 0, got ${this.latenessNs}`);
    if (this.stitchWindowNs < 0n)
      throw new SorterOptionsError(`stitchWindowNs must be >= 0, got ${this.stitchWindowNs}`);
    for (const [name, v] of [
      ['maxBufferedEvents', this.maxBuffered],
      ['rememberReleased', this.rememberReleased],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new SorterOptionsError(`${name} must be a whole number >= 1, got ${v}`);
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
    return this.watermark === BEFORE_ALL || this.watermark === NO_LIMIT ? undefined : this.watermark;
  }

  /**
   * Whether a node's progress holds the watermark back. Nodes are active from their first event;
   * set a finished or lost node inactive so that the others' journeys are not held for it.
   */
  setNodeActive(node: string, active: boolean): void {
    const n = this.nodeState(node, active);
    if (n.active === active) return;
    n.active = active;
    this.recomputeHolding();
    this.releaseReady();
  }

  /** Adds an event (read from its bytes when given as a SortItem: throws ProtoDecodeError if malformed). */
  push(item: SortItem | SortedEvent): void {
    const se = item instanceof SortedEvent ? item : new SortedEvent(item.node, item.raw);
    let n = this.lastNode;
    if (n === undefined || n.name !== se.node) n = this.lastNode = this.nodeState(se.node, true);
    if (n.clockVersion !== this.clock.version) this.refreshOffset(n);
    const mono = se.timestamp ?? (n.hasHw ? n.hw - n.offset : 0n);
    const ts = mono + n.offset;
    se.clusterTs = ts;
    if (!this.hasBase) {
      this.base = ts;
      this.hasBase = true;
    }
    this.nEvents++;
    n.lastPush = ++this.pushes;
    if (n.quiet) {
      n.quiet = false; // back: holds the watermark again
      this.recomputeHolding();
    }
    if (!n.hasHw || ts > n.hw) this.advance(n, ts);

    let s: Series | undefined;
    let isNew = false;
    if (se.tracked) {
      s = n.lastSeries;
      if (s === undefined || s.head !== se.trackHead || s.trackTs !== se.trackTs) {
        s = se.trackTs > n.maxTracking ? undefined : this.findSeries(n, se.trackHead, se.trackTs);
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
    if (this.heap.peekKey() < this.watermarkRel) this.releaseReady();
  }

  /**
   * Wall-clock time for quiet nodes (call it periodically, e.g. every 100 ms): a node that sent
   * nothing for latenessNs stops holding the watermark back, and what it held is released.
   */
  tick(nowWallNs: bigint): void {
    // Push counts at past ticks: a node whose last push is not after the count of a tick at least
    // latenessNs old has been silent at least that long.
    this.ticks.push({ wall: nowWallNs, pushes: this.pushes });
    const limit = nowWallNs - this.latenessNs;
    let consumed = 0;
    for (const t of this.ticks) {
      if (t.wall > limit) break;
      this.idlePushes = Math.max(this.idlePushes, t.pushes);
      consumed++;
    }
    if (consumed > 0) this.ticks.splice(0, consumed);
    let changed = false;
    for (const n of this.nodes.values()) {
      if (n.active && n.hasHw && !n.quiet && n.lastPush <= this.idlePushes) {
        n.quiet = true;
        changed = true;
      }
    }
    if (changed) {
      this.recomputeHolding();
      this.releaseReady();
    }
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

  // --- nodes and watermark ---

  private nodeState(name: string, active: boolean): NodeState {
    let n = this.nodes.get(name);
    if (n === undefined) {
      n = {
        name,
        offset: 0n,
        clockVersion: -1,
        hw: 0n,
        hasHw: false,
        active,
        quiet: false,
        lastPush: 0,
        series: new Map(),
        older: new Map(),
        maxTracking: -1n,
        lastSeries: undefined,
      };
      this.nodes.set(name, n);
    }
    return n;
  }

  private refreshOffset(n: NodeState): void {
    n.offset = this.clock.offset(n.name); // throws ClockError for a node that never registered
    n.clockVersion = this.clock.version;
  }

  private offsetOf(n: NodeState): bigint {
    if (n.clockVersion !== this.clock.version) this.refreshOffset(n);
    return n.offset;
  }

  private advance(n: NodeState, ts: bigint): void {
    n.hw = ts;
    if (!n.hasHw) {
      n.hasHw = true;
      if (n.active) this.recomputeHolding(); // its first event: it may be the slowest
    } else if (n === this.minNode) this.recomputeWatermark(); // only the slowest moves the minimum
  }

  /** After a node's state changed: which nodes hold the watermark, and where it is. */
  private recomputeHolding(): void {
    this.holding = [...this.nodes.values()].filter((n) => n.active && n.hasHw && !n.quiet);
    this.recomputeWatermark();
  }

  private recomputeWatermark(): void {
    let min: NodeState | undefined;
    const holding = this.holding;
    for (let i = 0; i < holding.length; i++) {
      const n = holding[i] as NodeState;
      if (min === undefined || n.hw < min.hw) min = n;
    }
    this.minNode = min;
    this.watermark = min === undefined ? (this.nodes.size > 0 ? NO_LIMIT : BEFORE_ALL) : min.hw - this.latenessNs;
    this.fpExpiry = this.watermark - this.stitchWindowNs;
    this.watermarkRel =
      this.watermark === NO_LIMIT
        ? Infinity
        : this.watermark === BEFORE_ALL
          ? -Infinity
          : Number(this.watermark - this.base);
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

  private findSeries(n: NodeState, head: bigint, trackTs: bigint): Series | undefined {
    const s = n.series.get(head);
    if (s !== undefined && s.trackTs === trackTs) return s;
    const o = n.older.get(head);
    return o !== undefined && o.trackTs === trackTs ? o : undefined;
  }

  /** Forgets the older generation of series, but not the open ones in it. */
  private nextGeneration(): void {
    this.seriesInGeneration = 0;
    for (const n of this.nodes.values()) {
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
    this.stitch(s, f.keyLo, f.keyHi, ts, isNew);
  }

  private stitch(s: Series, lo: number, hi: number, ts: bigint, isNew: boolean): void {
    const e = this.fps.get(lo, hi);
    const d = e === undefined ? 0n : e.ts - ts;
    if (e !== undefined && d <= this.stitchWindowNs && -d <= this.stitchWindowNs) {
      const m = e.series;
      if (m === s) return;
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
      return;
    }
    const entry: FpEntry = { lo, hi, series: s, ts };
    this.fps.set(lo, hi, entry);
    this.fpQueue.push(entry);
    this.expireFingerprints();
  }

  /** Forgets fingerprints older than the window behind the watermark, and the oldest past the bound. */
  private expireFingerprints(): void {
    const q = this.fpQueue;
    const before = this.fpExpiry;
    while (this.fpHead < q.length) {
      const e = q[this.fpHead] as FpEntry;
      if (e.ts >= before && q.length - this.fpHead <= this.maxBuffered) break;
      this.fps.delete(e.lo, e.hi, e);
      this.fpHead++;
    }
    if (this.fpHead > 4096 && this.fpHead * 2 > q.length) {
      this.fpQueue = q.slice(this.fpHead);
      this.fpHead = 0;
    }
  }

  /** Two series of one packet on different nodes: a measurement for the cluster clock. */
  private observeHop(a: Series, b: Series): void {
    if (a.node === b.node) return;
    // Routers only decrement the TTL: the higher one was seen first. Equal (bridged) or unknown:
    // the earlier cluster time departed.
    let aFirst: boolean;
    if (a.maxTtl >= 0 && b.maxTtl >= 0 && a.maxTtl !== b.maxTtl) aFirst = a.maxTtl > b.maxTtl;
    else aFirst = a.firstMono + this.offsetOf(a.node) <= b.firstMono + this.offsetOf(b.node);
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
    this.heap.push(j, Number(ts - this.base));
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
    this.heap.push(j, Number(j.key - this.base));
  }

  private releaseReady(): void {
    // Number() is monotonic: a key below the watermark as numbers is below it as bigints.
    while (this.heap.peekKey() < this.watermarkRel) {
      const j = this.heap.pop() as JourneyState;
      if (j.state !== OPEN) continue;
      if (j.latest >= this.watermark) this.rekey(j);
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
        const n = this.nodes.get(e.node);
        if (mono !== undefined && n !== undefined) e.clusterTs = mono + this.offsetOf(n);
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

/** The series an event is part of (the journey's id is its first event's series). */
function seriesOf(e: SortedEvent, series: Series[]): Series {
  for (const s of series) {
    if (s.node.name !== e.node) continue;
    if (e.tracked ? s.head === e.trackHead && s.trackTs === e.trackTs : s.event === e) return s;
  }
  return series[0] as Series;
}

function byClusterTime(a: SortedEvent, b: SortedEvent): number {
  if (a.clusterTs !== b.clusterTs) return a.clusterTs < b.clusterTs ? -1 : 1;
  if (a.node !== b.node) return 0; // stable: arrival order
  const ma = a.timestamp ?? 0n;
  const mb = b.timestamp ?? 0n;
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

/**
 * Sorts a journey's events by cluster time, stably. Journeys are short (a packet's hops) and
 * nearly in order: insertion sort, in place, with no allocation (Array.prototype.sort made a
 * copy of each); long ones (a packet looping, a merge of many series) go to the builtin.
 */
function sortEvents(evs: SortedEvent[]): void {
  const n = evs.length;
  if (n > 48) {
    evs.sort(byClusterTime);
    return;
  }
  for (let i = 1; i < n; i++) {
    const e = evs[i] as SortedEvent;
    let k = i - 1;
    while (k >= 0 && byClusterTime(evs[k] as SortedEvent, e) > 0) {
      evs[k + 1] = evs[k] as SortedEvent;
      k--;
    }
    evs[k + 1] = e;
  }
}
