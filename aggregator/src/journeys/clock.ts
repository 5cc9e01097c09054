// One time line for the whole cluster. Event timestamps are each node's CLOCK_MONOTONIC; the
// agent's registration carries its boot offset (wall clock minus CLOCK_MONOTONIC), which puts
// them on the wall clock. Wall clocks of different nodes disagree by as much as their NTP sync
// allows (often more than a packet's one-way delay inside a cluster), so the offsets are refined
// from packets seen on two nodes: a packet cannot arrive before it left.
//
// Per directed node pair we keep the smallest observed (arrival - departure), in cluster time
// from the boot offsets alone (so that corrections never feed back into the measurements). The
// minimum is the fastest trip: the closest to the pure one-way delay plus the clock error.
// - Both directions known (NTP's reasoning): with equal one-way delays, the clock error between
//   the two nodes is half the difference of the two minimums. Corrections spread from the
//   reference node (the first registered) through such pairs.
// - One direction only: we cannot tell delay from error, but a negative minimum is impossible, so
//   the node that is not anchored by a two-way pair is shifted until the arrival is minHopNs after
//   the departure.
// Minimums are kept for the life of the clock; a node's new boot offset (agent restart) forgets
// the pairs it is part of, since they were measured against the old one.

export class ClockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClockError';
  }
}

export interface ClusterClockOptions {
  /** Smallest one-way delay a causality correction leaves between departure and arrival. */
  minHopNs?: bigint;
}

interface NodeClock {
  name: string;
  bootOffset: bigint;
  correction: bigint;
  /** Peer -> minimum (peer - this) in boot-offset cluster time, for packets from this node. */
  minTo: Map<NodeClock, bigint>;
}

export class ClusterClock {
  private readonly nodes = new Map<string, NodeClock>();
  private readonly minHopNs: bigint;
  private version_ = 0;

  constructor(opts: ClusterClockOptions = {}) {
    this.minHopNs = opts.minHopNs ?? 1_000n;
    if (this.minHopNs < 0n) throw new ClockError(`minHopNs must be >= 0, got ${this.minHopNs}`);
  }

  /** Changes whenever an offset or correction changes (callers cache offsets against it). */
  get version(): number {
    return this.version_;
  }

  /** The reference node: the first one registered; its correction is always 0. */
  get reference(): string | undefined {
    return this.nodes.keys().next().value;
  }

  has(node: string): boolean {
    return this.nodes.has(node);
  }

  /** Registers a node, or records its new boot offset (wall clock minus CLOCK_MONOTONIC, ns). */
  setBootOffset(node: string, offsetNs: bigint): void {
    const n = this.nodes.get(node);
    if (!n) {
      this.nodes.set(node, { name: node, bootOffset: offsetNs, correction: 0n, minTo: new Map() });
      this.version_++;
      return;
    }
    if (n.bootOffset === offsetNs) return;
    n.bootOffset = offsetNs;
    n.minTo.clear();
    for (const other of this.nodes.values()) other.minTo.delete(n);
    this.recompute();
    this.version_++;
  }

  /** Total offset of a node: monotonic ns + offset = cluster ns since the Unix epoch. */
  offset(node: string): bigint {
    const n = this.node(node);
    return n.bootOffset + n.correction;
  }

  /** A node's CLOCK_MONOTONIC timestamp as cluster time (ns since the Unix epoch). */
  toCluster(node: string, monoNs: bigint): bigint {
    const n = this.node(node);
    return monoNs + n.bootOffset + n.correction;
  }

  /** What the refinement added to the node's boot offset (ns; for status). */
  correction(node: string): bigint {
    return this.node(node).correction;
  }

  /** The same packet left `fromNode` at `fromMonoNs` and was seen on `toNode` at `toMonoNs`. */
  observeHop(fromNode: string, fromMonoNs: bigint, toNode: string, toMonoNs: bigint): void {
    if (fromNode === toNode) return;
    const from = this.node(fromNode);
    const to = this.node(toNode);
    // Called for every stitched pair of series: most are not a new minimum and stop here.
    const delta = toMonoNs + to.bootOffset - (fromMonoNs + from.bootOffset);
    const min = from.minTo.get(to);
    if (min !== undefined && min <= delta) return;
    from.minTo.set(to, delta);
    if (this.recompute()) this.version_++;
  }

  private node(name: string): NodeClock {
    const n = this.nodes.get(name);
    if (!n)
      throw new ClockError(
        `node ${JSON.stringify(name)} has no boot offset: register it (setBootOffset from the agent's ` +
          'Register.boot_offset) before converting its timestamps',
      );
    return n;
  }

  /** Recomputes every correction from the minimums; returns whether any changed. */
  private recompute(): boolean {
    const corr = new Map<string, bigint>();
    const twoWay = new Map<string, { peer: string; there: bigint; back: bigint }[]>();
    const oneWay: { from: string; to: string; delta: bigint }[] = [];
    for (const fromClock of this.nodes.values()) {
      const from = fromClock.name;
      for (const [toClock, delta] of fromClock.minTo) {
        const to = toClock.name;
        const back = toClock.minTo.get(fromClock);
        if (back === undefined) {
          oneWay.push({ from, to, delta });
          continue;
        }
        let list = twoWay.get(from);
        if (!list) twoWay.set(from, (list = []));
        list.push({ peer: to, there: delta, back });
      }
    }
    // Two-way pairs: breadth first from the reference, then from any node left unreached (its
    // own group, anchored at its first-registered node).
    for (const root of this.nodes.keys()) {
      if (corr.has(root)) continue;
      corr.set(root, 0n);
      const queue = [root];
      for (let i = 0; i < queue.length; i++) {
        const u = queue[i] as string;
        const cu = corr.get(u) ?? 0n;
        for (const { peer, there, back } of twoWay.get(u) ?? []) {
          if (corr.has(peer)) continue;
          // corrected there == corrected back  <=>  c(peer) = c(u) + (back - there) / 2
          corr.set(peer, cu + (back - there) / 2n);
          queue.push(peer);
        }
      }
    }
    const anchored = new Set<string>();
    for (const [name] of this.nodes) if (name === this.reference || twoWay.has(name)) anchored.add(name);
    // One-way pairs: restore causality by moving the node that is free to move. A chain of them
    // may need several passes; more than one per node would mean an impossible cycle.
    for (let pass = 0; pass < this.nodes.size; pass++) {
      let moved = false;
      for (const { from, to, delta } of oneWay) {
        const cf = corr.get(from) ?? 0n;
        const ct = corr.get(to) ?? 0n;
        const corrected = delta + ct - cf;
        if (corrected >= this.minHopNs) continue;
        const shift = this.minHopNs - corrected;
        if (!anchored.has(to)) corr.set(to, ct + shift);
        else if (!anchored.has(from)) corr.set(from, cf - shift);
        else continue;
        moved = true;
      }
      if (!moved) break;
    }
    let changed = false;
    for (const n of this.nodes.values()) {
      const c = corr.get(n.name) ?? 0n;
      if (c !== n.correction) {
        n.correction = c;
        changed = true;
      }
    }
    return changed;
  }
}
