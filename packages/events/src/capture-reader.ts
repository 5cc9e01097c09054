// Reads packet captures: classic pcap (either byte order, micro- or nanosecond stamps) and
// pcap-ng (section header, interface description, enhanced and simple packet blocks).

export interface CapturedPacket {
  /** 1-based position in the file, as tcpdump numbers packets. */
  number: number;
  linkType: number;
  caplen: number;
  /** Length on the wire. */
  len: number;
  data: Buffer;
}

export class CaptureFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureFormatError';
  }
}

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

function readClassic(file: Buffer): CapturedPacket[] {
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;
  const snaplen = u32(16);
  const out: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const caplen = u32(off + 8);
    const len = u32(off + 12);
    const start = off + 16;
    if (start + caplen > file.length)
      throw new CaptureFormatError(
        `packet ${out.length + 1} at byte ${off} runs past the end of the file (truncated capture?)`,
      );
    // As libpcap (and so tcpdump) does: bytes past the file's snapshot length are not seen.
    const seen = snaplen > 0 && caplen > snaplen ? snaplen : caplen;
    out.push({ number: out.length + 1, linkType, caplen: seen, len, data: file.subarray(start, start + seen) });
    off = start + caplen;
  }
  return out;
}

function readNg(file: Buffer): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  let le = true;
  let links: number[] = [];
  let off = 0;
  while (off + 12 <= file.length) {
    let type = file.readUInt32LE(off);
    if (type === 0x0a0d0d0a) {
      const bom = file.readUInt32LE(off + 8);
      le = bom === 0x1a2b3c4d;
      if (!le && file.readUInt32BE(off + 8) !== 0x1a2b3c4d)
        throw new CaptureFormatError('pcap-ng section with an unknown byte order');
      links = [];
    }
    const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
    const u16 = (o: number): number => (le ? file.readUInt16LE(o) : file.readUInt16BE(o));
    type = u32(off);
    const total = u32(off + 4);
    if (total < 12 || off + total > file.length)
      throw new CaptureFormatError(`pcap-ng block at byte ${off} has a bad length ${total} (truncated capture?)`);
    if (type === 1) links.push(u16(off + 8));
    else if (type === 6) {
      const iface = u32(off + 8);
      const caplen = u32(off + 20);
      const len = u32(off + 24);
      out.push({
        number: out.length + 1,
        linkType: links[iface] ?? -1,
        caplen,
        len,
        data: file.subarray(off + 28, off + 28 + caplen),
      });
    } else if (type === 3) {
      const len = u32(off + 8);
      const caplen = Math.min(len, total - 16);
      out.push({
        number: out.length + 1,
        linkType: links[0] ?? -1,
        caplen,
        len,
        data: file.subarray(off + 12, off + 12 + caplen),
      });
    }
    off += total;
  }
  return out;
}

/** Every packet of a pcap or pcap-ng file. */
export function readCapture(file: Buffer): CapturedPacket[] {
  if (file.length < 24) throw new CaptureFormatError('not a capture: shorter than a pcap header');
  const magic = file.readUInt32LE(0);
  if ([0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1].includes(magic)) return readClassic(file);
  if (magic === 0x0a0d0d0a) return readNg(file);
  throw new CaptureFormatError(`not a pcap or pcap-ng file (magic 0x${magic.toString(16)})`);
}
