// What the aggregator reads of each event while sorting, storing and counting: a few fields,
// scanned out of the protobuf bytes the agent sent, with nothing else decoded. Decoding whole
// events cost more than everything else the aggregator does per event; the whole event is
// decoded only when someone looks at it (SortedEvent.event). Field numbers come from the schema's
// generated descriptor, and the bytes are read with the protobuf runtime's reader, so this
// reader follows proto/ like the codec does.
import { ProtoReader, asDecodeError, fieldChecker, fieldNumber } from '@retrace/events';

/**
 * What the aggregator reads of an event. A class, so that every instance has one shape, and so
 * that SortedEvent can be its own keys: an event waiting in the sorter is one object (plus its
 * bytes and two bigints), not an event, a keys object, a tracking object and views.
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

const tag = (message: string, field: string, wire: number): number => (fieldNumber(message, field) << 3) | wire;
const EV = {
  common: tag('Event', 'common', 2),
  tracking: tag('Event', 'skb-tracking', 2),
  drop: tag('Event', 'skb-drop', 2),
  packet: tag('Event', 'packet', 2),
  k8s: tag('Event', 'k8s', 2),
  journey: tag('Event', 'journey', 2),
};
const COMMON_TS = tag('Common', 'timestamp', 0);
const TRACK = {
  head: tag('SkbTracking', 'orig_head', 0),
  ts: tag('SkbTracking', 'timestamp', 0),
};
const PKT = { len: tag('Packet', 'len', 0), data: tag('Packet', 'data', 2) };
const DROP_REASON = tag('SkbDrop', 'drop_reason', 2);
const JOURNEY_ID = tag('Journey', 'id', 2);
const K8S = { node: tag('K8s', 'node', 2), namespace: tag('K8s', 'namespace', 2), pod: tag('K8s', 'pod', 2) };
// What is not read is still checked, in the same walk: what is stored must read back.
const check = {
  event: fieldChecker('Event'),
  common: fieldChecker('Common'),
  tracking: fieldChecker('SkbTracking'),
  packet: fieldChecker('Packet'),
  drop: fieldChecker('SkbDrop'),
  k8s: fieldChecker('K8s'),
  journey: fieldChecker('Journey'),
};

/**
 * Strings that repeat (node, namespace, pod, drop reason names) are decoded once: each cache
 * slot keeps the last bytes it decoded and their string.
 */
class StringSlot {
  private bytes = new Uint8Array(0);
  private text = '';
  get(buf: Uint8Array, start: number, end: number): string {
    const n = end - start;
    const b = this.bytes;
    if (b.length === n) {
      let i = 0;
      while (i < n && b[i] === buf[start + i]) i++;
      if (i === n) return this.text;
    }
    this.bytes = buf.slice(start, end);
    this.text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, n).toString('utf8');
    return this.text;
  }
}
/**
 * Reads the sort keys of encoded Events. One reader serves a stream of events (the aggregator's
 * ingest, the sorter, a segment scan): it keeps its protobuf reader and the last node, namespace,
 * pod and drop reason it read, so that an event repeating them (most do) makes no garbage. Each
 * owner has its own; nothing is shared between them.
 */
export class SortKeyReader {
  private readonly reader = new ProtoReader(new Uint8Array(0), 'Event');
  private readonly slots: Slots = {
    node: new StringSlot(),
    namespace: new StringSlot(),
    pod: new StringSlot(),
    drop: new StringSlot(),
  };

  /**
   * The sort keys of one encoded Event, read into `k` (a new SortKeys when not given), which is
   * returned. Throws ProtoDecodeError when the bytes are not a well-formed Event: every field is
   * checked all the way down as it is read or passed over, so that what is stored can be read back.
   */
  read(raw: Uint8Array, k: SortKeys = new SortKeys()): SortKeys {
    k.raw = raw;
    const r = this.reader.reset(raw);
    try {
      readFields(r, raw, k, this.slots);
    } catch (e) {
      throw asDecodeError('Event', r, e); // the runtime's bounds errors among them
    }
    if (k.packetLen === 0) k.packetLen = k.packetEnd - k.packetStart;
    return k;
  }
}

interface Slots {
  node: StringSlot;
  namespace: StringSlot;
  pod: StringSlot;
  drop: StringSlot;
}

function readFields(r: ProtoReader, raw: Uint8Array, k: SortKeys, slots: Slots): void {
  while (r.pos < r.len) {
    const t = r.tag();
    if (t !== EV.common && t !== EV.tracking && t !== EV.packet && t !== EV.drop && t !== EV.k8s && t !== EV.journey) {
      check.event(r, t);
      continue;
    }
    const end = r.length() + r.pos;
    // Sections are merged when repeated, as protobuf has it: later fields overwrite. A tag that
    // matches carries its wire type; any other field goes to the section's checker.
    if (t === EV.common) {
      k.timestamp ??= 0n; // present: proto3's default applies
      while (r.pos < end) {
        const f = r.tag();
        if (f === COMMON_TS) k.timestamp = r.uint64();
        else check.common(r, f);
        within(r, end, 'Common');
      }
    } else if (t === EV.tracking) {
      k.tracked = true;
      while (r.pos < end) {
        const f = r.tag();
        if (f === TRACK.head) k.trackHead = r.uint64();
        else if (f === TRACK.ts) k.trackTs = r.uint64();
        else check.tracking(r, f);
        within(r, end, 'SkbTracking');
      }
    } else if (t === EV.packet) {
      while (r.pos < end) {
        const f = r.tag();
        if (f === PKT.len) k.packetLen = r.uint32();
        else if (f === PKT.data) {
          const n = r.length();
          k.packetStart = r.pos;
          k.packetEnd = r.pos += n;
        } else check.packet(r, f);
        within(r, end, 'Packet');
      }
    } else if (t === EV.drop) {
      while (r.pos < end) {
        const f = r.tag();
        if (f === DROP_REASON) k.dropReason = str(r, slots.drop);
        else check.drop(r, f);
        within(r, end, 'SkbDrop');
      }
    } else if (t === EV.k8s) {
      k.hasK8s = true;
      while (r.pos < end) {
        const f = r.tag();
        if (f === K8S.node) k.k8sNode = str(r, slots.node);
        else if (f === K8S.namespace) k.namespace = str(r, slots.namespace);
        else if (f === K8S.pod) k.pod = str(r, slots.pod);
        else check.k8s(r, f);
        within(r, end, 'K8s');
      }
    } else {
      while (r.pos < end) {
        const f = r.tag();
        if (f === JOURNEY_ID) {
          const n = r.length();
          k.journeyId = Buffer.from(raw.buffer, raw.byteOffset + r.pos, n).toString('utf8');
          r.pos += n;
        } else check.journey(r, f);
        within(r, end, 'Journey');
      }
    }
  }
}

function within(r: ProtoReader, end: number, section: string): void {
  if (r.pos > end) r.fail(`a field of ${section} runs past the end of the message`);
}

function str(r: ProtoReader, slot: StringSlot): string {
  const n = r.length();
  const s = slot.get(r.buf, r.pos, r.pos + n);
  r.pos += n;
  return s;
}
