// What goes through the journey sorter and comes out of it: events with their sort keys and their
// place, and journeys (a packet's events from every node it crossed, in cluster-time order).
import { decodeMessage, type Event, type Journey as JourneySection } from '@retrace/events';
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
 * An event in the sorter and in released journeys: its bytes, its sort keys (it is its own
 * SortKeys, read when it is made) and its place. Throws ProtoDecodeError for malformed bytes.
 */
export class SortedEvent extends SortKeys {
  private decoded: Event | undefined;
  /** Its batch, and its place among the batch's events fed (set by the aggregator). */
  origin: EventOrigin | undefined;
  slot = 0;
  constructor(
    /** The node the event came from (its agent's registration name; k8sNode is what the event says). */
    readonly node: string,
    raw: Uint8Array,
    /** Reads its keys (its owner's: the aggregator's ingest, the sorter). */
    keys: SortKeyReader,
    /** ns since the Unix epoch on the cluster clock (set by the sorter). */
    public clusterTs = 0n,
    /** Place in the journey: 0, 1, ... in order; late events continue the count. */
    public idx = 0,
    /** Arrived after its journey had been released. */
    public late = false,
  ) {
    super();
    keys.read(raw, this);
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

/** The Journey section of a stored or forwarded event (`journey`, field 17 of Event). */
export function journeySection(e: SortedEvent, j: Journey): JourneySection {
  return { id: j.id, idx: e.idx, cluster_ts: e.clusterTs, late: e.late, nodes: j.nodes.length };
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
export function sortEvents(evs: SortedEvent[]): void {
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
