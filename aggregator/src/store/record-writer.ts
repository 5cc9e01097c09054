// One stored record, written straight into the segment's pending bytes: its sender's number, its
// length, the agent's bytes as they are, then the sections the store adds (k8s.node when the agent
// left k8s out, and the Journey section). The record's length is worked out before it is written,
// so nothing is moved after, and the two sections are written as the schema's encoder writes
// them (the same bytes: test/store/record-writer.test.ts), without an object or a fork each.
import { fieldNumber, putVarint, putVarint64, varintLength, type ProtoWriter } from '@retrace/events';
import type { JourneyEvent } from '../journeys/sorted-event.js';
import { ReleasedEvent } from '../journeys/sorted-event.js';

const TAG_K8S = (fieldNumber('Event', 'k8s') << 3) | 2;
const TAG_JOURNEY = (fieldNumber('Event', 'journey') << 3) | 2;
const K8S_NODE = (fieldNumber('K8s', 'node') << 3) | 2;
const J = {
  id: (fieldNumber('Journey', 'id') << 3) | 2,
  idx: fieldNumber('Journey', 'idx') << 3,
  clusterTs: fieldNumber('Journey', 'cluster_ts') << 3,
  late: fieldNumber('Journey', 'late') << 3,
  nodes: fieldNumber('Journey', 'nodes') << 3,
};

/** What the journey's records share: its id's bytes and its node count. */
export interface RecordJourney {
  id: Buffer;
  nodes: number;
}

/** Scratch for a 64-bit value's halves. */
const halves = new DataView(new ArrayBuffer(8));

/**
 * Appends the record of `e` (sender number `sid`; `node` its sender's name as bytes, for a k8s
 * section) to `w`. Returns the record body's length.
 */
export function writeRecord(w: ProtoWriter, sid: number, e: JourneyEvent, node: Buffer, j: RecordJourney): number {
  const released = e instanceof ReleasedEvent;
  const raw = released ? undefined : e.raw;
  const rawLen = released ? e.srcEnd - e.srcStart : (raw as Uint8Array).length;
  // k8s: { node } (only when the agent sent none)
  const k8sBody = e.hasK8s ? -1 : node.length > 0 ? 1 + varintLength(node.length) + node.length : 0;
  const k8sLen = k8sBody < 0 ? 0 : varintLength(TAG_K8S) + varintLength(k8sBody) + k8sBody;
  // journey: { id, idx, cluster_ts, late, nodes }, proto3 defaults left out (cluster_ts, a
  // 64-bit value, is always written, as the generated encoder does)
  let lo: number;
  let hi: number;
  if (released) {
    lo = e.tsLo >>> 0;
    hi = e.tsHi >>> 0;
  } else {
    halves.setBigUint64(0, e.clusterTs, true);
    lo = halves.getUint32(0, true);
    hi = halves.getUint32(4, true);
  }
  const tsLen = hi === 0 ? varintLength(lo) : hi < 0x8 ? 5 : 5 + varintLength(hi >>> 3);
  const idLen = j.id.length;
  const jBody =
    (idLen > 0 ? 1 + varintLength(idLen) + idLen : 0) +
    (e.idx !== 0 ? 1 + varintLength(e.idx) : 0) +
    1 +
    tsLen +
    (e.late ? 2 : 0) +
    (j.nodes !== 0 ? 1 + varintLength(j.nodes) : 0);
  const body = rawLen + k8sLen + varintLength(TAG_JOURNEY) + varintLength(jBody) + jBody;
  w.ensure(2 + 5 + body);
  const b = w.buf;
  let p = w.pos;
  b[p++] = sid & 0xff;
  b[p++] = sid >>> 8;
  p = putVarint(b, p, body);
  // (a view of a plain Uint8Array: Buffer.copy costs a Buffer view and more per call)
  b.set(released ? e.src.subarray(e.srcStart, e.srcEnd) : (raw as Uint8Array), p);
  p += rawLen;
  if (k8sBody >= 0) {
    p = putVarint(b, p, TAG_K8S);
    p = putVarint(b, p, k8sBody);
    if (node.length > 0) {
      b[p++] = K8S_NODE;
      p = putVarint(b, p, node.length);
      node.copy(b, p);
      p += node.length;
    }
  }
  p = putVarint(b, p, TAG_JOURNEY);
  p = putVarint(b, p, jBody);
  if (idLen > 0) {
    b[p++] = J.id;
    p = putVarint(b, p, idLen);
    j.id.copy(b, p);
    p += idLen;
  }
  if (e.idx !== 0) {
    b[p++] = J.idx;
    p = putVarint(b, p, e.idx);
  }
  b[p++] = J.clusterTs;
  p = putVarint64(b, p, hi, lo);
  if (e.late) {
    b[p++] = J.late;
    b[p++] = 1;
  }
  if (j.nodes !== 0) {
    b[p++] = J.nodes;
    p = putVarint(b, p, j.nodes);
  }
  w.pos = p;
  return body;
}
