// What the aggregator reads of each event while sorting, storing and counting: a few fields,
// scanned out of the protobuf bytes the agent sent, with nothing else decoded. Decoding whole
// events cost more than everything else the aggregator does per event; the whole event is
// decoded only when someone looks at it (SortedEvent.event). Field numbers come from the
// generated tables, so this reader follows proto/ like the codec does.
import { ProtoReader, checkMessage, fieldNumber, type SkbTracking } from '@retrace/events';

export interface SortKeys {
  /** common.timestamp, the node's monotonic ns; undefined when the event has no common section. */
  timestamp: bigint | undefined;
  tracking: SkbTracking | undefined;
  /** The captured packet (a view into the event's bytes, from the Ethernet header). */
  packet: Uint8Array | undefined;
  /** packet.len, or the captured length when len is 0. */
  packetLen: number;
  /** skb-drop.drop_reason ('' when not a drop). */
  dropReason: string;
  /** Whether the event has a k8s section, and what it says. */
  hasK8s: boolean;
  node: string;
  namespace: string;
  pod: string;
}

const EV = {
  common: fieldNumber('Event', 'common'),
  tracking: fieldNumber('Event', 'skb-tracking'),
  drop: fieldNumber('Event', 'skb-drop'),
  packet: fieldNumber('Event', 'packet'),
  k8s: fieldNumber('Event', 'k8s'),
};
const COMMON_TS = fieldNumber('Common', 'timestamp');
const TRACK = {
  head: fieldNumber('SkbTracking', 'orig_head'),
  ts: fieldNumber('SkbTracking', 'timestamp'),
  skb: fieldNumber('SkbTracking', 'skb'),
};
const PKT = { len: fieldNumber('Packet', 'len'), data: fieldNumber('Packet', 'data') };
const DROP_REASON = fieldNumber('SkbDrop', 'drop_reason');
const K8S = {
  node: fieldNumber('K8s', 'node'),
  namespace: fieldNumber('K8s', 'namespace'),
  pod: fieldNumber('K8s', 'pod'),
};

const text = new TextDecoder();

/**
 * The sort keys of one encoded Event. Throws ProtoDecodeError when the bytes are not a
 * well-formed Event (checked all the way down, so that what is stored can be read back).
 */
export function readSortKeys(raw: Uint8Array): SortKeys {
  checkMessage('Event', raw);
  const k: SortKeys = {
    timestamp: undefined,
    tracking: undefined,
    packet: undefined,
    packetLen: 0,
    dropReason: '',
    hasK8s: false,
    node: '',
    namespace: '',
    pod: '',
  };
  const r = new ProtoReader(raw, 'Event');
  while (r.pos < r.end) {
    const tag = r.varint();
    const id = Math.floor(tag / 8);
    if ((tag & 7) !== 2) {
      r.skip(tag & 7);
      continue;
    }
    const n = r.length();
    const start = r.pos;
    r.pos += n;
    // Sections are merged when repeated, as protobuf has it: later fields overwrite.
    if (id === EV.common) readCommon(raw, start, start + n, k);
    else if (id === EV.tracking) readTracking(raw, start, start + n, k);
    else if (id === EV.packet) readPacket(raw, start, start + n, k);
    else if (id === EV.drop) readDrop(raw, start, start + n, k);
    else if (id === EV.k8s) readK8s(raw, start, start + n, k);
  }
  if (k.packet !== undefined && k.packetLen === 0) k.packetLen = k.packet.length;
  return k;
}

function readCommon(raw: Uint8Array, start: number, end: number, k: SortKeys): void {
  const r = new ProtoReader(raw, 'Common', start, end);
  if (k.timestamp === undefined) k.timestamp = 0n; // present: proto3's default applies
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === COMMON_TS << 3) k.timestamp = r.varint64();
    else r.skip(tag & 7);
  }
}

function readTracking(raw: Uint8Array, start: number, end: number, k: SortKeys): void {
  const r = new ProtoReader(raw, 'SkbTracking', start, end);
  const t = (k.tracking ??= { orig_head: 0n, timestamp: 0n, skb: 0n });
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === TRACK.head << 3) t.orig_head = r.varint64();
    else if (tag === TRACK.ts << 3) t.timestamp = r.varint64();
    else if (tag === TRACK.skb << 3) t.skb = r.varint64();
    else r.skip(tag & 7);
  }
}

function readPacket(raw: Uint8Array, start: number, end: number, k: SortKeys): void {
  const r = new ProtoReader(raw, 'Packet', start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === PKT.len << 3) k.packetLen = r.varint() >>> 0;
    else if (tag === ((PKT.data << 3) | 2)) {
      const n = r.length();
      k.packet = raw.subarray(r.pos, r.pos + n);
      r.pos += n;
    } else r.skip(tag & 7);
  }
}

function readDrop(raw: Uint8Array, start: number, end: number, k: SortKeys): void {
  const r = new ProtoReader(raw, 'SkbDrop', start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === ((DROP_REASON << 3) | 2)) k.dropReason = str(r);
    else r.skip(tag & 7);
  }
}

function readK8s(raw: Uint8Array, start: number, end: number, k: SortKeys): void {
  const r = new ProtoReader(raw, 'K8s', start, end);
  k.hasK8s = true;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === ((K8S.node << 3) | 2)) k.node = str(r);
    else if (tag === ((K8S.namespace << 3) | 2)) k.namespace = str(r);
    else if (tag === ((K8S.pod << 3) | 2)) k.pod = str(r);
    else r.skip(tag & 7);
  }
}

function str(r: ProtoReader): string {
  const n = r.length();
  const s = text.decode(r.buf.subarray(r.pos, r.pos + n));
  r.pos += n;
  return s;
}
