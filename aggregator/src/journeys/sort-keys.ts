// An event's keys as an object of its own (bigints, strings), for the readers that want one
// event at a time: a segment scan, the store's tests and benchmarks, SortedEvent. The sorter reads
// the same keys into its columns with EventKeyReader (event-keys.ts), which does the reading.
import { EventKeyReader, EventKeys, bigOf } from './event-keys.js';

/**
 * What the aggregator reads of an event. A class, so that every instance has one shape, and so
 * that SortedEvent can be its own keys.
 */
export class SortKeys {
  /** The event's bytes (the packet's offsets are into them). */
  raw: Uint8Array = NO_BYTES;
  /** common.timestamp, the node's monotonic ns; undefined when the event has no common section. */
  timestamp: bigint | undefined = undefined;
  /** Whether there is an skb-tracking section; its orig_head and timestamp (skb is not needed). */
  tracked = false;
  trackHead = 0n;
  trackTs = 0n;
  /** The captured packet (from the Ethernet header): raw[packetStart, packetEnd). */
  packetStart = 0;
  packetEnd = 0;
  /** packet.len, or the captured length when len is 0. */
  packetLen = 0;
  /** skb-drop.drop_reason ('' when not a drop). */
  dropReason = '';
  /** Whether the event has a k8s section, and what it says. */
  hasK8s = false;
  k8sNode = '';
  namespace = '';
  pod = '';
  /** journey.id, which events have once stored ('' before). */
  journeyId = '';
}
const NO_BYTES = new Uint8Array(0);

/**
 * Reads the sort keys of encoded Events, one reader per stream of events (it keeps the last
 * strings it read: an event repeating them makes no garbage). Each owner has its own.
 */
export class SortKeyReader {
  private readonly reader = new EventKeyReader();
  private readonly k = new EventKeys();

  /**
   * The sort keys of one encoded Event, read into `k` (a new SortKeys when not given), which is
   * returned. Throws ProtoDecodeError when the bytes are not a well-formed Event: every field is
   * checked all the way down as it is read or passed over, so that what is stored can be read back.
   */
  read(raw: Uint8Array, k: SortKeys = new SortKeys()): SortKeys {
    const e = this.k;
    this.reader.read(raw, 0, raw.length, e);
    k.raw = raw;
    k.timestamp = e.hasTs ? bigOf(e.tsHi, e.tsLo) : undefined;
    k.tracked = e.tracked;
    k.trackHead = e.tracked ? bigOf(e.headHi, e.headLo) : 0n;
    k.trackTs = e.tracked ? bigOf(e.trackHi, e.trackLo) : 0n;
    k.packetStart = e.packetStart;
    k.packetEnd = e.packetEnd;
    k.packetLen = e.packetLen;
    k.dropReason = e.dropReason;
    k.hasK8s = e.k8s.present;
    k.k8sNode = e.k8s.node;
    k.namespace = e.k8s.namespace;
    k.pod = e.k8s.pod;
    k.journeyId = this.reader.journeyId(e);
    return k;
  }
}
