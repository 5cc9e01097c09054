// The journey sorter's record of each node (series and journeys are columns: series-table.ts,
// journey-table.ts). Times are numbers: cluster ns after the sorter's base (its first event's
// cluster time), exact for 104 days; 64-bit values read from events (skb addresses, tracking
// timestamps) are kept as two 32-bit halves.
import { PairTable } from './pair-table.js';

export interface NodeState {
  name: string;
  /** The node's number in the sorter (its events' node column). */
  index: number;
  offset: bigint;
  /** What the clock's refinement added to the node's boot offset (ns; part of `offset`). */
  correction: number;
  clockVersion: number;
  /**
   * The node's times are kept as ns from its anchor, its first event's monotonic time (exact as a
   * number for 104 days either side; its halves unsigned); anchorRel is the anchor's cluster time
   * after the base.
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
   * Series (numbers) by orig_head (the tracking timestamp is checked on use), in two generations: new
   * series go into `series`; when the sorter has made rememberReleased / 2 of them, `older` is
   * dropped (keeping its open series) and `series` becomes `older`. Forgetting a generation at a
   * time costs nothing per series, where forgetting series one by one costs a deletion each.
   */
  series: PairTable;
  older: PairTable;
  /**
   * Highest tracking timestamp of the node's series (halves; both -1: none yet, as 2^64 - 1 can be
   * no tracking timestamp): a higher one is a new series for sure.
   */
  maxTrackHi: number;
  maxTrackLo: number;
  /** The series of the node's previous event (-1: none): a packet's events tend to come in a row. */
  lastSeries: number;
}

export function newNodeState(name: string, index: number, active: boolean): NodeState {
  return {
    name,
    index,
    offset: 0n,
    correction: 0,
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
    series: new PairTable(1024),
    older: new PairTable(1024),
    maxTrackHi: -1,
    maxTrackLo: -1,
    lastSeries: -1,
  };
}
