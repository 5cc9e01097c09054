// What the aggregator reads of each event while sorting, storing and counting: a few fields,
// scanned out of the protobuf bytes the agent sent, with nothing else decoded, into numbers and
// shared strings (no bigint, no object per event: the sorter keeps them in its columns). Every
// other field is checked all the way down as it is passed over (message-check.ts), so that what
// is stored reads back. Field numbers come from the schema's generated descriptor, so this reader
// follows proto/ like the codec does.
import { fieldNumber } from '@retrace/events';
import { CheckCursor, checkPlan } from './message-check.js';

/**
 * The keys of one event. 64-bit values are two 32-bit halves, each as a signed int32 (small
 * integers to V8: no heap number to make or keep; `>>> 0` gives the unsigned half); the packet's
 * bytes and the journey id are where they are in the bytes read (offsets into the buffer given to
 * read()).
 */
export class EventKeys {
  /** Whether there is a common section; its timestamp (the node's monotonic ns). */
  hasTs = false;
  tsHi = 0;
  tsLo = 0;
  /** Whether there is an skb-tracking section; its orig_head and timestamp (skb is not needed). */
  tracked = false;
  headHi = 0;
  headLo = 0;
  trackHi = 0;
  trackLo = 0;
  /** The captured packet (from the Ethernet header): buf[packetStart, packetEnd). */
  packetStart = 0;
  packetEnd = 0;
  /** packet.len, or the captured length when len is 0. */
  packetLen = 0;
  /** skb-drop.drop_reason ('' when not a drop). */
  dropReason = '';
  /** The event's k8s section (NO_K8S when it has none): one object shared by events that say the same. */
  k8s: K8sInfo = NO_K8S;
  /** journey.id (which stored events have): buf[journeyStart, journeyEnd); -1 when absent. */
  journeyStart = -1;
  journeyEnd = -1;
}

/** What an event's k8s section says. */
export interface K8sInfo {
  readonly present: boolean;
  readonly node: string;
  readonly namespace: string;
  readonly pod: string;
}
export const NO_K8S: K8sInfo = { present: false, node: '', namespace: '', pod: '' };

const tag = (message: string, field: string, wire: number): number => (fieldNumber(message, field) << 3) | wire;
const EV_COMMON = tag('Event', 'common', 2);
const EV_TRACKING = tag('Event', 'skb-tracking', 2);
const EV_DROP = tag('Event', 'skb-drop', 2);
const EV_PACKET = tag('Event', 'packet', 2);
const EV_K8S = tag('Event', 'k8s', 2);
const EV_JOURNEY = tag('Event', 'journey', 2);
const COMMON_TS = tag('Common', 'timestamp', 0);
const TRACK_HEAD = tag('SkbTracking', 'orig_head', 0);
const TRACK_TS = tag('SkbTracking', 'timestamp', 0);
const PKT_LEN = tag('Packet', 'len', 0);
const PKT_DATA = tag('Packet', 'data', 2);
const DROP_REASON = tag('SkbDrop', 'drop_reason', 2);
const JOURNEY_ID = tag('Journey', 'id', 2);
const K8S_NODE = tag('K8s', 'node', 2);
const K8S_NAMESPACE = tag('K8s', 'namespace', 2);
const K8S_POD = tag('K8s', 'pod', 2);
// What is not read is still checked, in the same walk: what is stored must read back.
const plan = {
  event: checkPlan('Event'),
  common: checkPlan('Common'),
  tracking: checkPlan('SkbTracking'),
  packet: checkPlan('Packet'),
  drop: checkPlan('SkbDrop'),
  k8s: checkPlan('K8s'),
  journey: checkPlan('Journey'),
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
    this.bytes = buf.slice(start, end); // a copy: the event's buffer may go
    this.text = utf8(buf, start, end);
    return this.text;
  }
}

const utf8 = (buf: Uint8Array, start: number, end: number): string =>
  Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');

/**
 * Reads the keys of encoded Events. One reader serves a stream of events (the sorter, a segment
 * scan): it keeps the last node, namespace, pod and drop reason it read, so that an event
 * repeating them (most do) makes no garbage. Each owner has its own.
 */
export class EventKeyReader {
  private readonly c = new CheckCursor('Event');
  private readonly node = new StringSlot();
  private readonly namespace = new StringSlot();
  private readonly pod = new StringSlot();
  private readonly drop = new StringSlot();
  /** The last k8s section's bytes and what they say: most events repeat their node's and pod's. */
  private k8sBytes = new Uint8Array(0);
  private k8sInfo: K8sInfo = { present: true, node: '', namespace: '', pod: '' }; // (of no bytes)
  /** The halves of the last 64-bit varint read. */
  private hi = 0;
  private lo = 0;

  /**
   * The keys of the Event in buf[start, end), into `k`. Throws ProtoDecodeError when the bytes
   * are not a well-formed Event: every field is checked all the way down as it is read or passed
   * over, so that what is stored can be read back.
   */
  read(buf: Uint8Array, start: number, end: number, k: EventKeys): void {
    k.hasTs = false;
    k.tsHi = k.tsLo = 0;
    k.tracked = false;
    k.headHi = k.headLo = k.trackHi = k.trackLo = 0;
    k.packetStart = k.packetEnd = k.packetLen = 0;
    k.dropReason = '';
    k.k8s = NO_K8S;
    k.journeyStart = k.journeyEnd = -1;
    const c = this.c;
    c.buf = buf;
    c.pos = c.origin = start;
    c.limit = end;
    this.fields(c, k, end);
    if (k.packetLen === 0) k.packetLen = k.packetEnd - k.packetStart;
  }

  /** The journey id of the event last read (k from that read), '' when it has none. */
  journeyId(k: EventKeys): string {
    return k.journeyStart < 0 ? '' : utf8(this.c.buf, k.journeyStart, k.journeyEnd);
  }

  private fields(c: CheckCursor, k: EventKeys, limit: number): void {
    while (c.pos < limit) {
      const t = c.tag();
      // Sections are merged when repeated, as protobuf has it: later fields overwrite. A tag that
      // matches carries its wire type; any other field goes to its message's check.
      switch (t) {
        case EV_COMMON: {
          const end = c.length() + c.pos;
          k.hasTs = true; // present: proto3's default applies
          while (c.pos < end) {
            const f = c.tag();
            if (f === COMMON_TS) {
              this.u64(c);
              k.tsHi = this.hi;
              k.tsLo = this.lo;
            } else c.skip(plan.common, f);
            within(c, end, 'Common');
          }
          break;
        }
        case EV_TRACKING: {
          const end = c.length() + c.pos;
          k.tracked = true;
          while (c.pos < end) {
            const f = c.tag();
            if (f === TRACK_HEAD) {
              this.u64(c);
              k.headHi = this.hi;
              k.headLo = this.lo;
            } else if (f === TRACK_TS) {
              this.u64(c);
              k.trackHi = this.hi;
              k.trackLo = this.lo;
            } else c.skip(plan.tracking, f);
            within(c, end, 'SkbTracking');
          }
          break;
        }
        case EV_PACKET: {
          const end = c.length() + c.pos;
          while (c.pos < end) {
            const f = c.tag();
            if (f === PKT_LEN) k.packetLen = c.u32();
            else if (f === PKT_DATA) {
              const n = c.length();
              k.packetStart = c.pos;
              k.packetEnd = c.pos += n;
            } else c.skip(plan.packet, f);
            within(c, end, 'Packet');
          }
          break;
        }
        case EV_DROP: {
          const end = c.length() + c.pos;
          while (c.pos < end) {
            const f = c.tag();
            if (f === DROP_REASON) k.dropReason = str(c, this.drop);
            else c.skip(plan.drop, f);
            within(c, end, 'SkbDrop');
          }
          break;
        }
        case EV_K8S:
          this.k8s(c, k);
          break;
        case EV_JOURNEY: {
          const end = c.length() + c.pos;
          while (c.pos < end) {
            const f = c.tag();
            if (f === JOURNEY_ID) {
              const n = c.length();
              k.journeyStart = c.pos;
              k.journeyEnd = c.pos += n;
            } else c.skip(plan.journey, f);
            within(c, end, 'Journey');
          }
          break;
        }
        default:
          c.skip(plan.event, t);
      }
    }
  }

  /**
   * A k8s section: the same bytes as the last one read (already checked) say the same; else its
   * fields, merged into what an earlier k8s section of the event said, as protobuf has it.
   */
  private k8s(c: CheckCursor, k: EventKeys): void {
    const n = c.length();
    const start = c.pos;
    const end = start + n;
    const last = this.k8sBytes;
    if (k.k8s === NO_K8S && last.length === n) {
      const b = c.buf;
      let i = 0;
      while (i < n && last[i] === b[start + i]) i++;
      if (i === n) {
        k.k8s = this.k8sInfo;
        c.pos = end;
        return;
      }
    }
    let node = k.k8s.node;
    let namespace = k.k8s.namespace;
    let pod = k.k8s.pod;
    while (c.pos < end) {
      const f = c.tag();
      if (f === K8S_NODE) node = str(c, this.node);
      else if (f === K8S_NAMESPACE) namespace = str(c, this.namespace);
      else if (f === K8S_POD) pod = str(c, this.pod);
      else c.skip(plan.k8s, f);
      within(c, end, 'K8s');
    }
    const merged = k.k8s !== NO_K8S;
    k.k8s = { present: true, node, namespace, pod };
    if (!merged) {
      this.k8sBytes = c.buf.slice(start, end); // a copy: the event's buffer may go
      this.k8sInfo = k.k8s;
    }
  }

  /** A varint of up to 64 bits into hi and lo. */
  private u64(c: CheckCursor): void {
    const buf = c.buf;
    let pos = c.pos;
    if (pos + 10 > c.limit) {
      this.u64Near(c);
      return;
    }
    // Ten bytes are there: no bound to check byte by byte. Bits 0..27, then 28..31 with 32..34,
    // then 35..63.
    let b = buf[pos++] as number;
    let lo = b & 0x7f;
    let hi = 0;
    if (b >= 0x80) {
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++] as number;
        lo |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++] as number;
          lo |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++] as number;
            lo |= (b & 0x0f) << 28;
            hi = (b & 0x7f) >> 4;
            for (let shift = 3; shift < 32 && b >= 0x80; shift += 7) {
              b = buf[pos++] as number;
              hi |= (b & 0x7f) << shift;
            }
            if (b >= 0x80) {
              c.pos = pos;
              c.fail('invalid varint encoding: longer than 10 bytes');
            }
          }
        }
      }
    }
    c.pos = pos;
    this.hi = hi | 0;
    this.lo = lo | 0;
  }

  /** u64 near the end of the message: each byte checked to be there. */
  private u64Near(c: CheckCursor): void {
    const buf = c.buf;
    const end = c.limit;
    let pos = c.pos;
    let lo = 0;
    let hi = 0;
    let b = 0x80;
    for (let shift = 0; shift < 28 && b >= 0x80; shift += 7) {
      if (pos >= end) c.truncated();
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
    }
    if (b >= 0x80) {
      if (pos >= end) c.truncated();
      b = buf[pos++] as number;
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >> 4;
      for (let shift = 3; shift < 32 && b >= 0x80; shift += 7) {
        if (pos >= end) c.truncated();
        b = buf[pos++] as number;
        hi |= (b & 0x7f) << shift;
      }
      if (b >= 0x80) {
        c.pos = pos;
        c.fail('invalid varint encoding: longer than 10 bytes');
      }
    }
    c.pos = pos;
    this.hi = hi | 0;
    this.lo = lo | 0;
  }
}

function within(c: CheckCursor, end: number, section: string): void {
  if (c.pos > end) c.fail(`a field of ${section} runs past the end of the message`);
}

function str(c: CheckCursor, slot: StringSlot): string {
  const n = c.length();
  const s = slot.get(c.buf, c.pos, c.pos + n);
  c.pos += n;
  return s;
}

/** A 64-bit value from its halves (signed or not: their 32 bits are taken). */
export function bigOf(hi: number, lo: number): bigint {
  const h = hi >>> 0;
  const l = lo >>> 0;
  // Below 2^53 a double holds it exactly: one conversion instead of a shift and an or.
  return h < 0x200000 ? BigInt(h * 4294967296 + l) : (BigInt(h) << 32n) | BigInt(l);
}
