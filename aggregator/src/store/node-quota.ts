// Each node's part of a trace's store, so that no node's events go on another node's account.
//
// Every stored record is charged to the node that sent it (the agent's registered name, not what
// the event says of itself: an agent cannot spend another node's share by naming it). A journey
// that crosses nodes is charged a part to each: its events on node A to A, on B to B; when one of
// them is over its share only that node's events are refused, and the journey is stored without
// them (its `journey` sections still say how many nodes it crossed; the missing events are counted).
//
// A node's share is capBytes divided among the nodes seen in the trace, and never less than a
// floor. Past its share a node's newest events are refused; its own oldest go instead only when
// the oldest segment holds nothing of a node that is within its share (segments mix nodes, so
// evicting one takes every node's events in it). A node within its share is never evicted for
// another: what a quiet node stored stays while a busy one is refused.
export class NodeQuota {
  /** Bytes stored per node (by the trace's string id of its name). */
  private readonly bytes = new Map<number, number>();
  /** Nodes refused since they last lost bytes: over their share, their oldest may go. */
  private readonly full = new Set<number>();

  constructor(
    private readonly capBytes: number,
    private readonly floorBytes: number,
  ) {}

  /** A node's share now: capBytes over the nodes seen, at least the floor. */
  share(): number {
    return Math.max(this.floorBytes, Math.floor(this.capBytes / Math.max(1, this.bytes.size)));
  }

  stored(node: number): number {
    return this.bytes.get(node) ?? 0;
  }

  nodes(): number[] {
    return [...this.bytes.keys()];
  }

  /** A node sends to the trace: it counts in the shares from now on. */
  see(node: number): void {
    if (!this.bytes.has(node)) this.bytes.set(node, 0);
  }

  /** Whether `size` more bytes of the node (plus `extra` it is adding meanwhile) fit its share. */
  fits(node: number, size: number, extra = 0): boolean {
    return this.stored(node) + extra + size <= this.share();
  }

  refused(node: number): void {
    this.full.add(node);
  }

  add(node: number, size: number): void {
    this.bytes.set(node, this.stored(node) + size);
  }

  /** Bytes of the node evicted: it has room again. */
  remove(node: number, size: number): void {
    this.bytes.set(node, Math.max(0, this.stored(node) - size));
    this.full.delete(node);
  }

  /** Whether a node is past its share (refused, or the share shrank under it as nodes came). */
  over(node: number): boolean {
    return this.full.has(node) || this.stored(node) > this.share();
  }

  /** Whether a segment holding these bytes per node may go: every node in it is over its share. */
  evictable(segmentBytes: Map<number, number>): boolean {
    for (const [node, b] of segmentBytes) if (b > 0 && !this.over(node)) return false;
    return true;
  }
}
