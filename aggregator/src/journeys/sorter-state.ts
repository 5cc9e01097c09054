// The journey sorter's records: per node, per series (a node's events of one skb) and per journey
// (series of one packet), and the marks they carry. Times are numbers: cluster ns after the
// sorter's base (its first event's cluster time), exact for 104 days; 64-bit values read from
// events (skb addresses, tracking timestamps) are kept as two 32-bit halves.
import { PairTable } from './pair-table.js';

export const OPEN = 0;
export const RELEASED = 1;
export const MERGED = 2;

export interface NodeState {
  name: string;
  /** The node's number in the sorter (its events' node column). */
  index: number;
  offset: bigint;
  clockVersion: number;
  /**
   * The node's times are kept as ns from its anchor, its first event's monotonic time (exact as a
   * number for 104 days either side); anchorRel is the anchor's cluster time after the base.
   */
  hasAnchor: boolean;
  anchor: bigint;
  anchorHi: number;
  anchorLo: number;
  anchorRel: number;
  /** Cluster time of its latest event (after the base). */
  hw: number;
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
   * time costs nothing per series, where forgetting series one by one costs a deletion each.
   */
  series: PairTable<Series>;
  older: PairTable<Series>;
  /** Highest tracking timestamp of the node's series (maxTrackHi -1: none): a higher one is a new series for sure. */
  maxTrackHi: number;
  maxTrackLo: number;
  /** The series of the node's previous event: a packet's events tend to come in a row. */
  lastSeries: Series | undefined;
}

export function newNodeState(name: string, index: number, active: boolean): NodeState {
  return {
    name,
    index,
    offset: 0n,
    clockVersion: -1,
    hasAnchor: false,
    anchor: 0n,
    anchorHi: 0,
    anchorLo: 0,
    anchorRel: 0,
    hw: 0,
    hasHw: false,
    active,
    quiet: false,
    lastPush: 0,
    series: new PairTable<Series>(64),
    older: new PairTable<Series>(64),
    maxTrackHi: -1,
    maxTrackLo: 0,
    lastSeries: undefined,
  };
}

export interface Series {
  node: NodeState;
  /** skb-tracking's orig_head and timestamp, as halves (tracked series). */
  tracked: boolean;
  headHi: number;
  headLo: number;
  trackHi: number;
  trackLo: number;
  untracked: number;
  /**
   * Monotonic time of its first event, from the node's anchor; NaN when that event had no
   * timestamp, its time then being the node's latest (firstMono).
   */
  firstDm: number;
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
  /** Its events: a list through the window's `next` column, in arrival order (-1: none). */
  head: number;
  tail: number;
  count: number;
  series: Series[];
  /** Cluster time of its latest event, and of the last one added. */
  latest: number;
  last: number;
  /** Heap key: a lower bound of `latest` (the heap is updated lazily). */
  key: number;
  sorted: boolean;
  clockVersion: number;
  /** Set on release. */
  id: string;
  /** Index of the next late event. */
  next: number;
  nodes: string[];
}
