// The journey sorter's records: per node, per series (a node's events of one skb) and per
// journey (series of one packet), and the marks they carry.
import type { SortedEvent } from './sorted-event.js';

export const OPEN = 0;
export const RELEASED = 1;
export const MERGED = 2;
/** Above any cluster time: the watermark when no active node holds it back. */
export const NO_LIMIT = 1n << 64n;
export const BEFORE_ALL = -(1n << 64n);

export interface NodeState {
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

export function newNodeState(name: string, active: boolean): NodeState {
  return {
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
}

export interface Series {
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
export interface JourneyState {
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

/** The series an event is part of (the journey's id is its first event's series). */
export function seriesOf(e: SortedEvent, series: Series[]): Series {
  for (const s of series) {
    if (s.node.name !== e.node) continue;
    if (e.tracked ? s.head === e.trackHead && s.trackTs === e.trackTs : s.event === e) return s;
  }
  return series[0] as Series;
}
