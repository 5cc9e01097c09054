// The journey sorter's watermark: how far every node's events have come, on the cluster clock.
// A journey is released once its latest event is behind the watermark, the slowest active node's
// progress minus latenessNs, so that the other nodes' parts of it have time to arrive. A node
// that sends nothing for latenessNs of wall time (tick() keeps the time) stops holding the
// watermark back until it sends again, so output is not stuck behind quiet nodes; when all are
// quiet, everything is released. Each node's offset to the cluster clock is kept here too, fresh
// whenever the clock is refined.
import type { ClusterClock } from './clock.js';
import { BEFORE_ALL, NO_LIMIT, newNodeState, type NodeState } from './sorter-state.js';

export class Watermark {
  readonly nodes = new Map<string, NodeState>();
  /** Cluster ns: journeys wholly before it are released. */
  value = BEFORE_ALL;
  /** Heap keys are ns after `base` (the first event's cluster time) as numbers: exact for 104 days. */
  base = 0n;
  hasBase = false;
  /** `value` after `base` as a number (-Infinity before any node holds it, Infinity when none does). */
  rel = -Infinity;
  /** Fingerprints seen before this (the watermark minus the stitching window) are forgotten. */
  fpExpiry = BEFORE_ALL;
  /** Events heard so far: a node is quiet when its last is not after a tick latenessNs old. */
  private pushes = 0;
  /** Nodes whose progress holds the watermark (active, not quiet, with events). */
  private holding: NodeState[] = [];
  private minNode: NodeState | undefined;
  private readonly ticks: { wall: bigint; pushes: number }[] = [];
  private idlePushes = 0;

  constructor(
    private readonly clock: ClusterClock,
    private readonly latenessNs: bigint,
    private readonly stitchWindowNs: bigint,
  ) {}

  /** The watermark, or undefined before any active node sent events (or when none holds it). */
  current(): bigint | undefined {
    return this.value === BEFORE_ALL || this.value === NO_LIMIT ? undefined : this.value;
  }

  node(name: string, active: boolean): NodeState {
    let n = this.nodes.get(name);
    if (n === undefined) {
      n = newNodeState(name, active);
      this.nodes.set(name, n);
    }
    return n;
  }

  refreshOffset(n: NodeState): void {
    n.offset = this.clock.offset(n.name); // throws ClockError for a node that never registered
    n.clockVersion = this.clock.version;
  }

  offsetOf(n: NodeState): bigint {
    if (n.clockVersion !== this.clock.version) this.refreshOffset(n);
    return n.offset;
  }

  /** An event of `n` at cluster time `ts`: the node is heard from, and may move the watermark. */
  heard(n: NodeState, ts: bigint): void {
    if (!this.hasBase) {
      this.base = ts;
      this.hasBase = true;
    }
    n.lastPush = ++this.pushes;
    if (n.quiet) {
      n.quiet = false; // back: holds the watermark again
      this.recomputeHolding();
    }
    if (!n.hasHw || ts > n.hw) this.advance(n, ts);
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
    for (const n of this.nodes.values()) {
      if (n.active && n.hasHw && !n.quiet && n.lastPush <= this.idlePushes) {
        n.quiet = true;
        changed = true;
      }
    }
    if (changed) this.recomputeHolding();
    return changed;
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
    this.value = min === undefined ? (this.nodes.size > 0 ? NO_LIMIT : BEFORE_ALL) : min.hw - this.latenessNs;
    this.fpExpiry = this.value - this.stitchWindowNs;
    this.rel =
      this.value === NO_LIMIT ? Infinity : this.value === BEFORE_ALL ? -Infinity : Number(this.value - this.base);
  }
}
