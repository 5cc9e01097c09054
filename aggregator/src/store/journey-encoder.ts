// A released journey into a segment's bytes: a block naming each sender new to the segment, then
// blocks of its events (segment-format.ts), each event checked against its sender's share and the
// caps as it goes (space.ts, which may evict the trace's oldest segments). A record is the
// event's protobuf bytes as the agent sent them with the sections the store adds appended
// (protobuf merges them in): k8s.node when the agent left it out, and the Journey section.
//
// The record arrays are the encoder's own, reused from journey to journey (one encoder per
// store): nothing is shared between stores.
import type { ProtoWriter } from '@retrace/events';
import type { Journey, JourneyEvent } from '../journeys/sorted-event.js';
import { StoreError } from './errors.js';
import { writeRecord, type RecordJourney } from './record-writer.js';
import {
  BLOCK_HEADER_BYTES,
  BLOCK_RECORDS,
  BLOCK_SENDER,
  MAX_BLOCK_BYTES,
  MAX_SENDERS,
  sealBlock,
} from './segment-format.js';
import { podOf, type StringTable } from './segment-index.js';
import type { Segment } from './segment.js';
import type { StoreSpace, TraceSpace } from './space.js';

/** The trace a journey is encoded for: its space, and its numbers for nodes, pods and drop reasons. */
export interface EncodeTarget extends TraceSpace {
  readonly strings: StringTable;
}

export class JourneyEncoder {
  /** Per record kept: where its body starts (in the writer), its size, its event, its block. */
  private starts = new Uint32Array(256);
  private sizes = new Uint32Array(256);
  private events = new Uint32Array(256);
  private blocks = new Uint32Array(256);
  /** Records kept by the last encode. */
  private kept = 0;
  /** Bytes per sender (by the trace's string id) the last encode stored. */
  private readonly charged = new Map<number, number>();
  /** Events per sender the last encode refused. */
  readonly refused = new Map<number, number>();
  /** Senders the last encode named in the segment. */
  private readonly declared: string[] = [];
  /** The segment's record count before the last encode. */
  private seqBefore = 0;
  /** What the journey's records share (its id's bytes, its node count), and the last sender's name as bytes. */
  private readonly journey: RecordJourney = { id: Buffer.alloc(0), nodes: 0 };
  private nodeName = '';
  private nodeBytes = Buffer.alloc(0);

  constructor(private readonly space: StoreSpace) {}

  /** Events the last encode kept. */
  get keptEvents(): number {
    return this.kept;
  }

  /**
   * Encodes a journey into `w` for `seg` (the trace's last segment). Returns how many of its
   * events went in; the rest were refused (`refused`).
   */
  encode(t: EncodeTarget, seg: Segment, j: Journey, w: ProtoWriter): number {
    const n = j.events.length;
    if (this.starts.length < n) {
      this.starts = new Uint32Array(n * 2);
      this.sizes = new Uint32Array(n * 2);
      this.events = new Uint32Array(n * 2);
      this.blocks = new Uint32Array(n * 2);
    }
    const charged = this.charged;
    // (a Map's clear() makes a new table, empty or not)
    if (charged.size > 0) charged.clear();
    if (this.refused.size > 0) this.refused.clear();
    this.declared.length = 0;
    this.seqBefore = seg.nextRecord;
    let added = this.declareSenders(t, seg, j, w);
    const rj = this.journey;
    rj.id = Buffer.from(j.id, 'utf8');
    rj.nodes = j.nodes.length;
    let block = openBlock(w);
    added += BLOCK_HEADER_BYTES;
    let inBlock = 0;
    let kept = 0;
    let senderName = '';
    let sender = -1;
    let sid = 0;
    /** Bytes of the sender in this journey, and what it may still add without a closer look. */
    let mine = 0;
    let room = 0;
    for (let i = 0; i < n; i++) {
      const e = j.events[i] as JourneyEvent;
      if (e.node !== senderName || sender < 0) {
        if (sender >= 0) charged.set(sender, mine);
        sender = t.strings.id((senderName = e.node));
        t.quota.see(sender);
        sid = seg.senderIds.get(senderName) as number;
        mine = charged.get(sender) ?? 0;
        room = this.space.room(t, sender, mine, added);
      }
      // The record: its sender, its length, the agent's bytes as they are, then the sections the
      // store adds, written straight into what is pending. Records say where they come from even
      // when the agent left k8s out (read back on open).
      const at = w.pos;
      if (e.node !== this.nodeName) this.nodeBytes = Buffer.from((this.nodeName = e.node), 'utf8');
      const body = writeRecord(w, sid, e, this.nodeBytes, rj);
      const size = w.pos - at;
      if (size > room) {
        if (!this.space.admit(t, sender, size, mine, added)) {
          w.pos = at;
          this.refused.set(sender, (this.refused.get(sender) ?? 0) + 1);
          continue;
        }
        room = this.space.room(t, sender, mine, added) + size;
      }
      room -= size;
      mine += size;
      added += size;
      this.starts[kept] = w.pos - body;
      this.sizes[kept] = body;
      this.blocks[kept] = block;
      this.events[kept++] = i;
      inBlock++;
      if (w.pos - block > MAX_BLOCK_BYTES / 2 && i < n - 1) {
        // a journey this big takes several blocks
        sealBlock(w.buf, block, BLOCK_RECORDS, w.pos, 0, seg.nextRecord);
        seg.nextRecord += inBlock;
        inBlock = 0;
        block = openBlock(w);
        added += BLOCK_HEADER_BYTES;
      }
    }
    if (sender >= 0) charged.set(sender, mine);
    if (inBlock === 0) w.pos = block;
    else {
      if (w.pos - block - BLOCK_HEADER_BYTES > MAX_BLOCK_BYTES)
        throw new StoreError(`an event of more than ${MAX_BLOCK_BYTES / 2} bytes: the store takes events up to 8 MiB`);
      sealBlock(w.buf, block, BLOCK_RECORDS, w.pos, 0, seg.nextRecord);
      seg.nextRecord += inBlock;
    }
    return (this.kept = kept);
  }

  /**
   * Takes the last encode back out of `seg` and of `w` (from `first`, where it began): the
   * journey goes whole into the next segment instead, encoded again (its senders and record
   * numbers are the segment's).
   */
  undo(seg: Segment, w: ProtoWriter, first: number): void {
    w.pos = first;
    seg.nextRecord = this.seqBefore;
    for (const s of this.declared) seg.senderIds.delete(seg.senders.pop() ?? s);
  }

  /**
   * Adds the last encode's records to the segment's index and their bytes to their senders'
   * accounts; `base` is the segment offset of the writer's first byte.
   */
  commit(t: EncodeTarget, seg: Segment, j: Journey, base: number): void {
    // The journey's id once; a journey's events mostly share node, pod and reason (the same
    // string objects, from the sort keys' string cache), so each is looked up when it changes.
    const strings = t.strings;
    const journey = this.kept > 0 ? seg.index.journeys.id(j.id) : 0;
    let node = '';
    let nodeId = -1;
    let ns = '';
    let pod = '';
    let podId = -1;
    let drop = '';
    let dropId = -1;
    for (let k = 0; k < this.kept; k++) {
      const e = j.events[this.events[k] as number] as JourneyEvent;
      const eNode = e.k8sNode || e.node;
      if (eNode !== node || nodeId < 0) nodeId = strings.id((node = eNode));
      if (e.namespace !== ns || e.pod !== pod || podId < 0)
        podId = strings.id(podOf((ns = e.namespace), (pod = e.pod)));
      if (e.dropReason !== drop || dropId < 0) dropId = strings.id((drop = e.dropReason));
      const offset = base + (this.starts[k] as number);
      seg.index.add(base + (this.blocks[k] as number), offset, this.sizes[k] as number, journey, nodeId, podId, dropId);
    }
    for (const [sender, b] of this.charged) {
      t.quota.add(sender, b);
      seg.nodeBytes.set(sender, (seg.nodeBytes.get(sender) ?? 0) + b);
    }
  }

  /** Senders new to the segment are named first (charged to them: a few bytes a segment). Returns the bytes added. */
  private declareSenders(t: EncodeTarget, seg: Segment, j: Journey, w: ProtoWriter): number {
    let added = 0;
    let senderName = '';
    for (let i = 0; i < j.events.length; i++) {
      const node = (j.events[i] as JourneyEvent).node;
      if (node === senderName) continue;
      senderName = node;
      if (seg.senderIds.has(node)) continue;
      if (seg.senders.length >= MAX_SENDERS)
        throw new StoreError(`${seg.path}: more than ${MAX_SENDERS} nodes in one segment; lower segmentBytes`);
      const sid = seg.senders.length;
      const at = w.pos;
      const name = Buffer.from(node, 'utf8');
      w.ensure(BLOCK_HEADER_BYTES + name.length);
      w.pos += BLOCK_HEADER_BYTES;
      w.raw(name);
      sealBlock(w.buf, at, BLOCK_SENDER, w.pos, sid, seg.nextRecord);
      seg.senders.push(node);
      seg.senderIds.set(node, sid);
      this.declared.push(node);
      const id = t.strings.id(node);
      t.quota.see(id);
      this.charged.set(id, (this.charged.get(id) ?? 0) + w.pos - at);
      added += w.pos - at;
    }
    return added;
  }
}

/** A block's header reserved at the end of `w`; returns where it is. */
function openBlock(w: ProtoWriter): number {
  const at = w.pos;
  w.ensure(BLOCK_HEADER_BYTES);
  w.pos += BLOCK_HEADER_BYTES;
  return at;
}
