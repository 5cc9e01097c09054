// Minimal reader of classic pcap files (both byte orders, micro- or nanosecond stamps), enough to
// feed captures from tcpdump's test suite to our packet parser.

export interface PcapPacket {
  caplen: number;
  len: number;
  data: Buffer;
}

export interface PcapFile {
  linkType: number;
  snaplen: number;
  packets: PcapPacket[];
}

export const LINKTYPE_ETHERNET = 1;

export function readPcap(file: Buffer): PcapFile {
  if (file.length < 24) throw new Error('not a pcap file: shorter than its 24-byte header');
  const magic = file.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a classic pcap file (magic 0x${magic.toString(16)}); pcap-ng is not supported here`);
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const packets: PcapPacket[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const caplen = u32(off + 8);
    const len = u32(off + 12);
    const start = off + 16;
    if (start + caplen > file.length) throw new Error(`pcap record at ${off} runs past the end of the file`);
    packets.push({ caplen, len, data: file.subarray(start, start + caplen) });
    off = start + caplen;
  }
  return { snaplen: u32(16), linkType: u32(20), packets };
}
