// pcap-ng writing: one interface per probe, each event with packet bytes as an enhanced packet
// block carrying the event's text as a comment and its JSON (packet removed) as a custom option,
// the same layout retis uses so its Wireshark dissector reads ours.
import type { Event } from './gen/event.js';
import { stringifyEvent } from './json.js';

/** Private Enterprise Number of the custom block and options (as retis writes them). */
export const RETIS_PEN = 70000;
const LINKTYPE_ETHERNET = 1;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function customOption(text: string): Buffer {
  const pen = Buffer.alloc(4);
  pen.writeUInt32LE(RETIS_PEN, 0);
  return option(2988 /* custom, UTF-8, copyable */, Buffer.concat([pen, Buffer.from(text, 'utf8')]));
}

const END_OF_OPTIONS = Buffer.alloc(4);

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

export interface PcapngPacket {
  /** Interface (probe) name, e.g. `raw_tracepoint/net:netif_receive_skb`. */
  iface: string;
  /** Nanoseconds since the epoch. */
  timestampNs: bigint;
  data: Buffer;
  origLen: number;
  comment?: string;
  /** JSON carried in a custom option. */
  json?: string;
}

/** Builds a pcap-ng file in memory: bounded by what the caller hands it. */
export class PcapngWriter {
  private readonly chunks: Buffer[] = [];
  private readonly ifaces = new Map<string, number>();

  constructor(opts: { application?: string; schema?: string } = {}) {
    const shb = Buffer.alloc(16);
    shb.writeUInt32LE(0x1a2b3c4d, 0);
    shb.writeUInt16LE(1, 4);
    shb.writeUInt16LE(0, 6);
    shb.writeBigInt64LE(-1n, 8);
    const opts_ = [option(4 /* shb_userappl */, Buffer.from(opts.application ?? 'retrace')), END_OF_OPTIONS];
    this.chunks.push(block(0x0a0d0d0a, Buffer.concat([shb, ...opts_])));
    if (opts.schema) {
      const pen = Buffer.alloc(4);
      pen.writeUInt32LE(RETIS_PEN, 0);
      const data = Buffer.from(opts.schema, 'utf8');
      this.chunks.push(block(0x00000bad, Buffer.concat([pen, data, Buffer.alloc(pad4(data.length) - data.length)])));
    }
  }

  private iface(name: string): number {
    let id = this.ifaces.get(name);
    if (id !== undefined) return id;
    id = this.ifaces.size;
    this.ifaces.set(name, id);
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(LINKTYPE_ETHERNET, 0);
    idb.writeUInt32LE(65535, 4);
    const tsresol = Buffer.from([9]); // nanoseconds
    this.chunks.push(
      block(
        1,
        Buffer.concat([
          idb,
          option(2 /* if_name */, Buffer.from(name)),
          option(3 /* if_description */, Buffer.from(`Fake interface for probe ${name}`)),
          option(9 /* if_tsresol */, tsresol),
          END_OF_OPTIONS,
        ]),
      ),
    );
    return id;
  }

  /**
   * Adds an event's packet: its bytes as the packet, the rest of the event as JSON in a custom
   * option, with a comment. False when the event carries no packet bytes.
   */
  addEvent(ev: Event, iface: string, timestampNs: bigint, comment: string): boolean {
    if (!ev.packet) return false;
    const data = Buffer.from(ev.packet.data, 'base64');
    const { packet: _packet, ...rest } = ev;
    this.add({
      iface,
      timestampNs,
      data,
      origLen: Math.max(ev.packet.len, data.length),
      comment,
      json: stringifyEvent(rest),
    });
    return true;
  }

  add(p: PcapngPacket): void {
    const id = this.iface(p.iface);
    const head = Buffer.alloc(20);
    head.writeUInt32LE(id, 0);
    head.writeUInt32LE(Number(p.timestampNs >> 32n), 4);
    head.writeUInt32LE(Number(p.timestampNs & 0xffffffffn), 8);
    head.writeUInt32LE(p.data.length, 12);
    head.writeUInt32LE(p.origLen, 16);
    const data = Buffer.concat([p.data, Buffer.alloc(pad4(p.data.length) - p.data.length)]);
    const opts: Buffer[] = [];
    if (p.comment) opts.push(option(1 /* opt_comment */, Buffer.from(p.comment, 'utf8')));
    if (p.json) opts.push(customOption(p.json));
    if (opts.length) opts.push(END_OF_OPTIONS);
    this.chunks.push(block(6, Buffer.concat([head, data, ...opts])));
  }

  get interfaces(): number {
    return this.ifaces.size;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The blocks made since the last call, for writing out as a stream. */
  drain(): Buffer {
    const b = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    return b;
  }
}

/** `probe_type/symbol` of an event, the name of its pcap-ng interface. */
export function probeInterfaceName(ev: Event): string | undefined {
  return ev.kernel ? `${ev.kernel.probe_type}/${ev.kernel.symbol}` : undefined;
}
