// An Event written into a batch as one `events` field (tag, length, Event), by hand: the bytes the
// generated encoder writes (test/event-writer.test.ts checks them against it), at a little over
// half its cost. The generated code calls a writer method per value, reserves one byte for each
// section's length and moves the section when it takes more (every event: its length takes two),
// and checks each field with hasOwnProperty; here lengths are reserved at the size they nearly
// always take, the packet's is known before it is written, and values go straight into the buffer.
//
// Sections the agent sends on every event (common, kernel, skb-tracking, skb-drop, packet, skb,
// dev, netns, k8s) are written here; any other (ct, nft, ovs, ...) by the generated encoder, in
// its place. Field numbers come from the schema, and what this code assumes of each field (its
// kind, whether it is optional) is checked against it when the module loads: a schema change
// that would make these bytes differ fails loudly instead. (docs/adr/0021)
import {
  ProtoWriter,
  SchemaError,
  messageFields,
  putVarint,
  putVarint64,
  varintLength,
  type Event,
} from '@retrace/events';

type Kind = 'u64' | 'u32' | 'i32' | 'bool' | 'string' | 'bytes' | 'message';

/**
 * Tags of `message`'s fields by their model names, after checking that each has the kind (and,
 * with '?', the proto3 optionality) this code writes it as, that the message has no others, and
 * that their numbers come in the order given (the generated encoder writes fields by number, and
 * this code in the order given).
 */
function tags<K extends string>(message: string, fields: Record<K, `${Kind}${'' | '?' | '*'}`>): Record<K, number> {
  const specs = messageFields(message);
  const out = {} as Record<K, number>;
  for (const [json, want] of Object.entries(fields) as [K, string][]) {
    const f = specs.find((s) => s.json === json);
    const kind = want.replace(/[?*]$/, '');
    const optional = want.endsWith('?') || kind === 'message' || want.endsWith('*');
    if (!f || f.kind !== kind || f.optional !== optional || f.repeated !== want.endsWith('*'))
      throw new SchemaError(`${message}.${json} is not the ${want} field the agent's event writer writes`);
    out[json] = (f.id << 3) | (kind === 'u64' || kind === 'u32' || kind === 'i32' || kind === 'bool' ? 0 : 2);
  }
  for (const s of specs)
    if (!(s.json in fields)) throw new SchemaError(`${message}.${s.json} is new: the agent's event writer omits it`);
  const byId = [...specs].sort((a, b) => a.id - b.id);
  if (byId.some((s, i) => s.json !== Object.keys(fields)[i]))
    throw new SchemaError(`${message}'s field numbers changed order: the agent's event writer writes them as before`);
  return out;
}

const COMMON = tags('Common', { timestamp: 'u64', smp_id: 'u32?', task: 'message' });
const TASK = tags('Task', { pid: 'i32', tgid: 'i32', comm: 'string' });
const KERNEL = tags('Kernel', { symbol: 'string', probe_type: 'string', stack_trace: 'string*' });
const TRACKING = tags('SkbTracking', { orig_head: 'u64', timestamp: 'u64', skb: 'u64' });
const DROP = tags('SkbDrop', { drop_reason: 'string', subsys: 'string?' });
const PACKET = tags('Packet', { len: 'u32', capture_len: 'u32', data: 'bytes' });
const SKB = tags('Skb', { vlan_accel: 'message', meta: 'message', data_ref: 'message', gso: 'message' });
const VLAN = tags('VlanAccel', { pcp: 'u32', dei: 'bool', vid: 'u32', proto: 'u32' });
const META = tags('SkbMeta', {
  len: 'u32',
  data_len: 'u32',
  hash: 'u32',
  ip_summed: 'u32',
  csum: 'u32',
  csum_level: 'u32',
  priority: 'u32',
  mark: 'u32',
});
const DATAREF = tags('SkbDataRef', { nohdr: 'bool', cloned: 'bool', fclone: 'u32', users: 'u32', dataref: 'u32' });
const GSO = tags('SkbGso', { flags: 'u32', frags: 'u32', segs: 'u32', size: 'u32', type: 'u32' });
const DEV = tags('Dev', { name: 'string', ifindex: 'u32', rx_ifindex: 'u32?' });
const NETNS = tags('Netns', { cookie: 'u64?', inum: 'u32' });
const K8S = tags('K8s', { node: 'string', namespace: 'string?', pod: 'string?', container: 'string?' });

/**
 * The Event's sections in field order, as event() writes them: by hand, or by the generated
 * encoder (null).
 */
const ORDER = [
  ['common', 'Common'],
  ['kernel', 'Kernel'],
  ['userspace', null],
  ['skb-tracking', 'SkbTracking'],
  ['skb-drop', 'SkbDrop'],
  ['packet', 'Packet'],
  ['skb', 'Skb'],
  ['dev', 'Dev'],
  ['netns', 'Netns'],
  ['ct', null],
  ['nft', null],
  ['ovs', null],
  ['startup', null],
  ['tracking', null],
  ['lost', null],
  ['k8s', 'K8s'],
  ['journey', null],
  ['ovs-detrace', null],
] as const;
type Section = (typeof ORDER)[number][0];
/** Each section's tag (field number and wire type 2) and message. */
const S = {} as Record<Section, { tag: number; id: number; type: string }>;
{
  const fields = [...messageFields('Event')].sort((a, b) => a.id - b.id); // (written by number)
  if (fields.length !== ORDER.length || fields.some((f, i) => f.json !== ORDER[i]?.[0]))
    throw new SchemaError(
      `Event's sections changed: the agent's event writer writes ${ORDER.map((o) => o[0]).join(', ')}`,
    );
  for (const [i, f] of fields.entries()) {
    const own = ORDER[i]?.[1];
    if (f.message === undefined || (own != null && own !== f.message))
      throw new SchemaError(`Event.${f.json} is not the section the agent's event writer writes`);
    S[f.json as Section] = { tag: (f.id << 3) | 2, id: f.id, type: f.message };
  }
}

/** Scratch for a bigint's two 32-bit halves. */
const halves = new DataView(new ArrayBuffer(8));

/**
 * Writes events into a ProtoWriter's buffer. `b` and `p` are the writer's buffer and position
 * while an event is written (handed back at its end, or before the generated encoder writes).
 */
export class EventWriter {
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  private w: ProtoWriter = new ProtoWriter(0);

  /** Writes `ev` as field `field` (a message field: tag, length, Event) at the end of `w`. */
  write(w: ProtoWriter, field: number, ev: Event): void {
    if ((ev as { $unknowns?: unknown }).$unknowns !== undefined || field > 15) {
      // fields the schema does not know, kept by a decode: the generated encoder writes them
      w.messageField(field, 'Event', ev);
      return;
    }
    this.w = w;
    this.b = w.buf;
    this.p = w.pos;
    this.room(3);
    this.b[this.p++] = (field << 3) | 2;
    // Two bytes for the length: an event takes 128 to 16383 bytes but for odd ones.
    const at = this.p;
    this.p += 2;
    this.event(ev);
    const len = this.p - at - 2;
    if (len >= 0x80 && len < 0x4000) {
      this.b[at] = (len & 0x7f) | 0x80;
      this.b[at + 1] = len >>> 7;
    } else this.moveBody(at, 2, len);
    w.pos = this.p;
  }

  /** The sections in field order (ORDER). */
  private event(ev: Event): void {
    if (ev.common != null) this.common(ev.common);
    if (ev.kernel != null) this.kernel(ev.kernel);
    if (ev.userspace != null) this.generated(S.userspace, ev.userspace);
    if (ev['skb-tracking'] != null) this.tracking(ev['skb-tracking']);
    if (ev['skb-drop'] != null) this.drop(ev['skb-drop']);
    if (ev.packet != null) this.packet(ev.packet);
    if (ev.skb != null) this.skb(ev.skb);
    if (ev.dev != null) this.dev(ev.dev);
    if (ev.netns != null) this.netns(ev.netns);
    if (ev.ct != null) this.generated(S.ct, ev.ct);
    if (ev.nft != null) this.generated(S.nft, ev.nft);
    if (ev.ovs != null) this.generated(S.ovs, ev.ovs);
    if (ev.startup != null) this.generated(S.startup, ev.startup);
    if (ev.tracking != null) this.generated(S.tracking, ev.tracking);
    if (ev.lost != null) this.generated(S.lost, ev.lost);
    if (ev.k8s != null) this.k8s(ev.k8s);
    if (ev.journey != null) this.generated(S.journey, ev.journey);
    if (ev['ovs-detrace'] != null) this.generated(S['ovs-detrace'], ev['ovs-detrace']);
  }

  // --- sections ---

  private common(c: NonNullable<Event['common']>): void {
    const at = this.open(S.common);
    if (c.timestamp != null && !this.u64(COMMON.timestamp, c.timestamp)) return this.redo(at, S.common, c);
    if (c.smp_id != null) this.u32(COMMON.smp_id, c.smp_id);
    const task = c.task;
    if (task != null) {
      const t = this.open(COMMON.task);
      if (task.pid != null && task.pid !== 0 && !this.i32(TASK.pid, task.pid)) return this.redo(at, S.common, c);
      if (task.tgid != null && task.tgid !== 0 && !this.i32(TASK.tgid, task.tgid)) return this.redo(at, S.common, c);
      if (task.comm != null && task.comm !== '') this.string(TASK.comm, task.comm);
      this.close(t);
    }
    this.close(at);
  }

  private kernel(k: NonNullable<Event['kernel']>): void {
    const at = this.open(S.kernel);
    if (k.symbol != null && k.symbol !== '') this.string(KERNEL.symbol, k.symbol);
    if (k.probe_type != null && k.probe_type !== '') this.string(KERNEL.probe_type, k.probe_type);
    const stack = k.stack_trace;
    if (stack != null && stack.length)
      for (let i = 0; i < stack.length; i++) this.string(KERNEL.stack_trace, stack[i] as string);
    this.close(at);
  }

  private tracking(t: NonNullable<Event['skb-tracking']>): void {
    const at = this.open(S['skb-tracking']);
    if (
      (t.orig_head != null && !this.u64(TRACKING.orig_head, t.orig_head)) ||
      (t.timestamp != null && !this.u64(TRACKING.timestamp, t.timestamp)) ||
      (t.skb != null && !this.u64(TRACKING.skb, t.skb))
    )
      return this.redo(at, S['skb-tracking'], t);
    this.close(at);
  }

  private drop(d: NonNullable<Event['skb-drop']>): void {
    const at = this.open(S['skb-drop']);
    if (d.drop_reason != null && d.drop_reason !== '') this.string(DROP.drop_reason, d.drop_reason);
    if (d.subsys != null) this.string(DROP.subsys, d.subsys);
    this.close(at);
  }

  /** The packet: its data's length is known before it is written, and so is the section's. */
  private packet(pk: NonNullable<Event['packet']>): void {
    const data: unknown = pk.data;
    // Bytes not given as base64 text: as the generated encoder writes them.
    if (data != null && typeof data !== 'string') return this.generated(S.packet, pk);
    const hasLen = pk.len != null && pk.len !== 0;
    const hasCap = pk.capture_len != null && pk.capture_len !== 0;
    const len = hasLen ? pk.len >>> 0 : 0;
    const cap = hasCap ? pk.capture_len >>> 0 : 0;
    const hasData = data != null && data.length > 0;
    const n = hasData ? Buffer.byteLength(data, 'base64') : 0;
    const body =
      (hasLen ? 1 + varintLength(len) : 0) +
      (hasCap ? 1 + varintLength(cap) : 0) +
      (hasData ? 1 + varintLength(n) + n : 0);
    this.room(2 + 5 + body);
    const start = this.p;
    const b = this.b;
    let p = start;
    p = putVarint(b, p, S.packet.tag);
    p = putVarint(b, p, body);
    if (hasLen) {
      b[p++] = PACKET.len;
      p = putVarint(b, p, len);
    }
    if (hasCap) {
      b[p++] = PACKET.capture_len;
      p = putVarint(b, p, cap);
    }
    if (hasData) {
      b[p++] = PACKET.data;
      p = putVarint(b, p, n);
      // Not canonical base64 (stray characters): its length was guessed wrong.
      if (n > 0 && b.write(data, p, n, 'base64') !== n) {
        this.p = start;
        return this.generated(S.packet, pk);
      }
      p += n;
    }
    this.p = p;
  }

  private skb(s: NonNullable<Event['skb']>): void {
    const at = this.open(S.skb);
    const v = s.vlan_accel;
    if (v != null) {
      const x = this.open(SKB.vlan_accel);
      this.u32Field(VLAN.pcp, v.pcp);
      this.boolField(VLAN.dei, v.dei);
      this.u32Field(VLAN.vid, v.vid);
      this.u32Field(VLAN.proto, v.proto);
      this.close(x);
    }
    const m = s.meta;
    if (m != null) {
      const x = this.open(SKB.meta);
      this.u32Field(META.len, m.len);
      this.u32Field(META.data_len, m.data_len);
      this.u32Field(META.hash, m.hash);
      this.u32Field(META.ip_summed, m.ip_summed);
      this.u32Field(META.csum, m.csum);
      this.u32Field(META.csum_level, m.csum_level);
      this.u32Field(META.priority, m.priority);
      this.u32Field(META.mark, m.mark);
      this.close(x);
    }
    const d = s.data_ref;
    if (d != null) {
      const x = this.open(SKB.data_ref);
      this.boolField(DATAREF.nohdr, d.nohdr);
      this.boolField(DATAREF.cloned, d.cloned);
      this.u32Field(DATAREF.fclone, d.fclone);
      this.u32Field(DATAREF.users, d.users);
      this.u32Field(DATAREF.dataref, d.dataref);
      this.close(x);
    }
    const g = s.gso;
    if (g != null) {
      const x = this.open(SKB.gso);
      this.u32Field(GSO.flags, g.flags);
      this.u32Field(GSO.frags, g.frags);
      this.u32Field(GSO.segs, g.segs);
      this.u32Field(GSO.size, g.size);
      this.u32Field(GSO.type, g.type);
      this.close(x);
    }
    this.close(at);
  }

  private dev(d: NonNullable<Event['dev']>): void {
    const at = this.open(S.dev);
    if (d.name != null && d.name !== '') this.string(DEV.name, d.name);
    this.u32Field(DEV.ifindex, d.ifindex);
    if (d.rx_ifindex != null) this.u32(DEV.rx_ifindex, d.rx_ifindex);
    this.close(at);
  }

  private netns(n: NonNullable<Event['netns']>): void {
    const at = this.open(S.netns);
    if (n.cookie != null && !this.u64(NETNS.cookie, n.cookie)) return this.redo(at, S.netns, n);
    this.u32Field(NETNS.inum, n.inum);
    this.close(at);
  }

  private k8s(k: NonNullable<Event['k8s']>): void {
    const at = this.open(S.k8s);
    if (k.node != null && k.node !== '') this.string(K8S.node, k.node);
    if (k.namespace != null) this.string(K8S.namespace, k.namespace);
    if (k.pod != null) this.string(K8S.pod, k.pod);
    if (k.container != null) this.string(K8S.container, k.container);
    this.close(at);
  }

  /**
   * The section whose length is at `at` taken back, and written again by the generated encoder:
   * a value this writer leaves to it (a 64-bit number that is not a bigint, an int32 out of
   * range, bytes that are not canonical base64) is written as that encoder writes it.
   */
  private redo(at: number, s: { tag: number; id: number; type: string }, value: object): void {
    this.p = at - varintLength(s.tag); // (its tag)
    this.generated(s, value);
  }

  /** A section by the generated encoder. */
  private generated(s: { id: number; type: string }, value: object): void {
    const w = this.w;
    w.pos = this.p;
    w.messageField(s.id, s.type, value);
    this.b = w.buf;
    this.p = w.pos;
  }

  // --- lengths ---

  /** Starts a section or message field of tag `tag`: returns where its length goes. */
  private open(s: number | { tag: number }): number {
    this.room(6);
    this.p = putVarint(this.b, this.p, typeof s === 'number' ? s : s.tag);
    return this.p++; // one byte for the length: sections are short
  }

  /** Ends the section whose length is at `at`. */
  private close(at: number): void {
    const len = this.p - at - 1;
    if (len < 0x80) this.b[at] = len;
    else this.moveBody(at, 1, len);
  }

  /** The body after `at` (where `reserved` bytes were kept for its length) moved to fit its length. */
  private moveBody(at: number, reserved: number, len: number): void {
    const need = varintLength(len);
    if (need !== reserved) {
      this.room(need - reserved);
      this.b.copyWithin(at + need, at + reserved, at + reserved + len);
      this.p += need - reserved;
    }
    putVarint(this.b, at, len);
  }

  /** At least n bytes free at p. */
  private room(n: number): void {
    if (this.p + n <= this.b.length) return;
    const w = this.w;
    w.pos = this.p;
    w.ensure(n);
    this.b = w.buf;
  }

  // --- values ---

  private u32(tag: number, v: number): void {
    this.room(6);
    this.b[this.p++] = tag;
    this.p = putVarint(this.b, this.p, v >>> 0);
  }

  /** An int32 (a negative one takes ten bytes, sign-extended); false, nothing written, for anything else. */
  private i32(tag: number, v: number): boolean {
    if ((v | 0) !== v) return false;
    if (v >= 0) {
      this.u32(tag, v);
      return true;
    }
    this.room(11);
    this.b[this.p++] = tag;
    this.p = putVarint64(this.b, this.p, 0xffffffff, v >>> 0);
    return true;
  }

  /** A uint32 field, left out when absent or 0 (proto3's default), as the generated encoder does. */
  private u32Field(tag: number, v: number | null | undefined): void {
    if (v != null && v !== 0) this.u32(tag, v);
  }

  /** A bool field, left out when absent or false (proto3's default), as the generated encoder does. */
  private boolField(tag: number, v: boolean | null | undefined): void {
    if (v != null && v !== false) this.bool(tag, v);
  }

  private bool(tag: number, v: unknown): void {
    this.room(2);
    this.b[this.p++] = tag;
    this.b[this.p++] = v ? 1 : 0;
  }

  /** A uint64 given as a bigint; false, nothing written, for anything else. */
  private u64(tag: number, v: unknown): boolean {
    if (typeof v !== 'bigint') return false;
    this.room(11);
    this.b[this.p++] = tag;
    // (a negative one wraps, as the generated encoder writes it)
    halves.setBigUint64(0, v, true);
    const hi = halves.getUint32(4, true);
    const lo = halves.getUint32(0, true);
    this.p = hi === 0 ? putVarint(this.b, this.p, lo) : putVarint64(this.b, this.p, hi, lo);
    return true;
  }

  /** A string: ASCII ones byte by byte, others as UTF-8. */
  private string(tag: number, s: string): void {
    const n = s.length;
    this.room(1 + 5 + n * 3);
    const b = this.b;
    b[this.p++] = tag;
    if (n < 0x80) {
      const at = this.p + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        b[this.p] = n;
        this.p = at + n;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.p = putVarint(b, this.p, len);
    this.p += b.write(s, this.p, len, 'utf8');
  }
}
