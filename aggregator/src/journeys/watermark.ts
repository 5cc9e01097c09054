// The journey sorter's watermark: how far every node's events have come, on the cluster clock.
// A journey is released once its latest event is behind the watermark, the slowest active node's
// progress minus latenessNs, so that the other nodes' parts of it have time to arrive. A node
// that sends nothing for latenessNs of wall time (tick() keeps the time) stops holding the
// watermark back until it sends again, so output is not stuck behind quiet nodes; when all are
// quiet, everything is released. Each node's offset to the cluster clock is kept here too, fresh
// whenever the clock is refined.
//
// Times are numbers: cluster ns after `base`, the first event's cluster time (exact for 104 days),
// so that the per-event work compares doubles instead of making bigints.
import type { ClusterClock } from './clock.js';
import { newNodeState, type NodeState } from './sorter-state.js';

export class Watermark {
  readonly nodes = new Map<string, NodeState>();
  /** The nodes by their number, and their names. */
  readonly list: NodeState[] = [];
  readonly names: string[] = [];
  /** Cluster ns after `base`: journeys wholly before it are released (-Infinity: none yet; Infinity: no node holds it). */
  value = -Infinity;
  /** The first event's cluster time: times are ns after it. */
  base = 0n;
  hasBase = false;
  /** The base's two 32-bit halves (unsigned): released events' times are made from them. */
  baseHi = 0;
  baseLo = 0;
  /** Fingerprints seen before this (the watermark minus the stitching window) are forgotten. */
  fpExpiry = -Infinity;
  /** Events heard so far: a node is quiet when its last is not after a tick latenessNs old. */
  private pushes = 0;
  /** Nodes whose progress holds the watermark (active, not quiet, with events). */
  private holding: NodeState[] = [];
  private minNode: NodeState | undefined;
  private readonly ticks: { wall: bigint; pushes: number }[] = [];
  private idlePushes = 0;
  private readonly lateness: number;
  private readonly stitchWindow: number;

  constructor(
    private readonly clock: ClusterClock,
    private readonly latenessNs: bigint,
    stitchWindowNs: bigint,
  ) {
    this.lateness = Number(latenessNs);
    this.stitchWindow = Number(stitchWindowNs);
  }

  /** The watermark, or undefined before any active node sent events (or when none holds it). */
  current(): bigint | undefined {
    return Number.isFinite(this.value) ? this.base + BigInt(this.value) : undefined;
  }

  node(name: string, active: boolean): NodeState {
    let n = this.nodes.get(name);
    if (n === undefined) {
      n = newNodeState(name, this.list.length, active);
      this.nodes.set(name, n);
      this.list.push(n);
      this.names.push(name);
    }
    return n;
  }

  /** The base, from the first event's cluster time. */
  setBase(clusterNs: bigint): void {
    this.base = clusterNs;
    this.hasBase = true;
    const u = BigInt.asUintN(64, clusterNs);
    this.baseHi = Number(u >> 32n);
    this.baseLo = Number(u & 0xffffffffn);
  }

  /** The node's offset (and its anchor's cluster time) after the clock changed. */
  refreshOffset(n: NodeState): void {
    n.offset = this.clock.offset(n.name); // throws ClockError for a node that never registered
    n.correction = Number(this.clock.correction(n.name));
    n.clockVersion = this.clock.version;
    if (n.hasAnchor) n.anchorRel = Number(n.anchor + n.offset - this.base);
  }

  /** Anchors the node's times at `mono` (its first event's monotonic time; the base is set). */
  anchor(n: NodeState, mono: bigint, hi: number, lo: number): void {
    n.hasAnchor = true;
    n.anchor = mono;
    n.anchorHi = hi;
    n.anchorLo = lo;
    n.anchorRel = Number(mono + n.offset - this.base);
  }

  /** The node's anchor's cluster time with its current offset. */
  anchorRelOf(n: NodeState): number {
    if (n.clockVersion !== this.clock.version) this.refreshOffset(n);
    return n.anchorRel;
  }

  /** An event of `n` at cluster time `t` (after the base): the node is heard from, and may move the watermark. */
  heard(n: NodeState, t: number): void {
    n.lastPush = ++this.pushes;
    if (n.quiet) {
      n.quiet = false; // back: holds the watermark again
      this.recomputeHolding();
    }
    if (!n.hasHw || t > n.hw) this.advance(n, t);
  }

  /** Whether a node's progress holds the watermark back; returns whether that changed. */
  setActive(node: string, active: boolean): boolean {
    const n = this.node(node, active);
    if (n.active === active) return false;
    n.active = active;
    this.recomputeHolding();
    return true;
  }

  /** Wall-clock time: nodes silent for latenessNs stop holding the watermark. Returns whether any did. */
  tick(nowWallNs: bigint): boolean {
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
    for (const n of this.list) {
      if (n.active && n.hasHw && !n.quiet && n.lastPush <= this.idlePushes) {
        n.quiet = true;
        changed = true;
      }
    }
    if (changed) this.recomputeHolding();
    return changed;
  }

  private advance(n: NodeState, t: number): void {
    n.hw = t;
    if (!n.hasHw) {
      n.hasHw = true;
      if (n.active) this.recomputeHolding(); // its first event: it may be the slowest
    } else if (n === this.minNode) this.recomputeWatermark(); // only the slowest moves the minimum
  }

  /** After a node's state changed: which nodes hold the watermark, and where it is. */
  private recomputeHolding(): void {
    this.holding = this.list.filter((n) => n.active && n.hasHw && !n.quiet);
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
    this.value = min === undefined ? (this.nodes.size > 0 ? Infinity : -Infinity) : min.hw - this.lateness;
    this.fpExpiry = this.value - this.stitchWindow;
  }
}
