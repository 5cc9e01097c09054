// What goes into the journey sorter and comes out of it: events with their bytes and keys, and
// journeys (a packet's events from every node it crossed, in cluster-time order).
import { decodeMessage, type Event, type Journey as JourneySection } from '@retrace/events';
import { bigOf, type K8sInfo } from './event-keys.js';
import { SortKeys, type SortKeyReader } from './sort-keys.js';

export interface SortItem {
  /** The node the event came from (its agent's registration name). */
  node: string;
  /** The event's protobuf encoding, carried through untouched. */
  raw: Uint8Array;
}

/** Where an event came from, told when the event is stored (the aggregator's acknowledgements). */
export interface EventOrigin {
  markStored(slot: number): void;
}

/**
 * An event of a journey, as the store, the summaries and the aggregator read it: its bytes, the
 * keys they need, and its place in the journey.
 */
export interface JourneyEvent {
  /** The node the event came from (its agent's registration name; k8sNode is what the event says). */
  readonly node: string;
  /** The event's protobuf encoding, as the agent sent it. */
  readonly raw: Uint8Array;
  /** ns since the Unix epoch on the cluster clock. */
  readonly clusterTs: bigint;
  /** Place in the journey: 0, 1, ... in order; late events continue the count. */
  readonly idx: number;
  /** Arrived after its journey had been released. */
  readonly late: boolean;
  /** skb-drop.drop_reason ('' when not a drop). */
  readonly dropReason: string;
  /** Whether the event has a k8s section, and what it says. */
  readonly hasK8s: boolean;
  readonly k8sNode: string;
  readonly namespace: string;
  readonly pod: string;
  /** Its batch, and its place among the batch's events fed (set by the aggregator). */
  readonly origin: EventOrigin | undefined;
  readonly slot: number;
  /** The whole event, decoded on first use (the sorter and the store read only the keys). */
  readonly event: Event;
}

/**
 * An event with its sort keys read from its bytes (it is its own SortKeys), for readers that
 * build journeys themselves (the store's tests and benchmarks). Throws ProtoDecodeError for
 * malformed bytes.
 */
export class SortedEvent extends SortKeys implements JourneyEvent {
  private decoded: Event | undefined;
  /** Its batch, and its place among the batch's events fed (set by the aggregator). */
  origin: EventOrigin | undefined;
  slot = 0;
  constructor(
    /** The node the event came from (its agent's registration name; k8sNode is what the event says). */
    readonly node: string,
    raw: Uint8Array,
    /** Reads its keys. */
    keys: SortKeyReader,
    /** ns since the Unix epoch on the cluster clock. */
    public clusterTs = 0n,
    /** Place in the journey: 0, 1, ... in order; late events continue the count. */
    public idx = 0,
    /** Arrived after its journey had been released. */
    public late = false,
  ) {
    super();
    keys.read(raw, this);
  }

  /** The whole event, decoded on first use. */
  get event(): Event {
    return (this.decoded ??= decodeMessage<Event>('Event', this.raw));
  }
}

/**
 * An event as the sorter releases it, made from its columns at release: its bytes stay where
 * they came (a batch's buffer) until someone asks for them as a Uint8Array of their own, and its
 * cluster time is two 32-bit halves until asked for as a bigint (small integers to V8: nothing
 * but the object itself is made per event).
 */
export class ReleasedEvent implements JourneyEvent {
  private decoded: Event | undefined = undefined;
  constructor(
    readonly node: string,
    /** The buffer holding the event's bytes, src[srcStart, srcEnd). */
    readonly src: Uint8Array,
    readonly srcStart: number,
    readonly srcEnd: number,
    /** src is the event's own bytes as they were given (raw is src itself). */
    private readonly whole: boolean,
    /** The cluster time's high and low 32 bits (two's complement), as int32. */
    readonly tsHi: number,
    readonly tsLo: number,
    readonly idx: number,
    readonly late: boolean,
    readonly dropReason: string,
    /** What its k8s section says (shared by events that say the same). */
    readonly k8s: K8sInfo,
    readonly origin: EventOrigin | undefined,
    readonly slot: number,
  ) {}

  get hasK8s(): boolean {
    return this.k8s.present;
  }
  get k8sNode(): string {
    return this.k8s.node;
  }
  get namespace(): string {
    return this.k8s.namespace;
  }
  get pod(): string {
    return this.k8s.pod;
  }

  /** Its bytes (a view made when asked: the store copies them from `src` without one). */
  get raw(): Uint8Array {
    return this.whole ? this.src : this.src.subarray(this.srcStart, this.srcEnd);
  }

  get clusterTs(): bigint {
    return bigOf(this.tsHi, this.tsLo);
  }

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
  events: JourneyEvent[];
}

/** The Journey section of a stored or forwarded event (`journey`, field 17 of Event). */
export function journeySection(e: JourneyEvent, j: Journey): JourneySection {
  return { id: j.id, idx: e.idx, cluster_ts: e.clusterTs, late: e.late, nodes: j.nodes.length };
}
