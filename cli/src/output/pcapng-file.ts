// A pcap-ng stream written to a file (or stdout) as it comes, in chunks of any size. A failed
// write cuts the file back to its last whole block, so Wireshark still opens it, and counts
// the packets written and lost.
import { OutputFile } from './output-file.js';
import { OutputWriteError } from './write-error.js';

const SHB = 0x0a0d0d0a;
const EPB = 6;
const SPB = 3;

export class PcapngFile {
  private readonly file: OutputFile;
  /** Stream bytes fed so far, and how many of them are in the file. */
  private fed = 0;
  private written = 0;
  /** The block being read: where it starts, its first 12 bytes as far as seen, where it ends. */
  private blockStart = 0;
  private head = Buffer.alloc(0);
  private blockEnd: number | undefined;
  private blockIsPacket = false;
  private le = true;
  /** A malformed length: no more block boundaries are known (the file is cut at the last one). */
  private lostTrack = false;
  /** Blocks complete in the stream but not yet known to be in the file: [end, isPacket]. */
  private unconfirmed: [number, boolean][] = [];
  private lastBoundary = 0;
  private packetsWritten = 0;
  private packetsLost = 0;
  private failure: NodeJS.ErrnoException | undefined;

  constructor(
    readonly path: string,
    private readonly flag = '-o',
  ) {
    this.file = new OutputFile(path, { flag });
  }

  /** Writes a chunk; after a failure, only counts its packets as lost. */
  write(chunk: Buffer | Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.parse(buf);
    if (this.failure) {
      this.packetsLost += this.unconfirmed.filter(([, p]) => p).length;
      this.unconfirmed = [];
      return;
    }
    const failed = this.file.write(buf);
    const reached = this.written + (failed ? failed.done : buf.length);
    // Blocks wholly written are in; the file ends at the last of them.
    while (this.unconfirmed.length) {
      const first = this.unconfirmed[0];
      if (!first || first[0] > reached) break;
      this.unconfirmed.shift();
      this.lastBoundary = first[0];
      if (first[1]) this.packetsWritten++;
    }
    this.written = reached;
    if (!failed) return;
    this.failure = failed.error;
    this.file.truncate(this.lastBoundary);
    this.packetsLost += this.unconfirmed.filter(([, p]) => p).length;
    this.unconfirmed = [];
  }

  /** Finds the blocks that end in `buf` (the stream's next bytes). */
  private parse(buf: Buffer): void {
    let p = 0;
    while (p < buf.length && !this.lostTrack) {
      if (this.blockEnd === undefined) {
        const take = Math.min(12 - this.head.length, buf.length - p);
        this.head = Buffer.concat([this.head, buf.subarray(p, p + take)]);
        p += take;
        if (this.head.length < 12) break;
        if (this.head.readUInt32LE(0) === SHB) this.le = this.head.readUInt32LE(8) === 0x1a2b3c4d;
        const type = this.le ? this.head.readUInt32LE(0) : this.head.readUInt32BE(0);
        const len = this.le ? this.head.readUInt32LE(4) : this.head.readUInt32BE(4);
        if (len < 12 || len % 4) {
          this.lostTrack = true;
          break;
        }
        this.blockEnd = this.blockStart + len;
        this.blockIsPacket = type === EPB || type === SPB;
      }
      const at = this.fed + p;
      const take = Math.min(this.blockEnd - at, buf.length - p);
      p += take;
      if (this.fed + p === this.blockEnd) {
        this.unconfirmed.push([this.blockEnd, this.blockIsPacket]);
        this.blockStart = this.blockEnd;
        this.blockEnd = undefined;
        this.head = Buffer.alloc(0);
      }
    }
    this.fed += buf.length;
  }

  /** Closes; throws OutputWriteError when a write failed. */
  close(): void {
    const closeError = this.file.close();
    if (closeError && !this.failure) this.failure = closeError;
    if (this.failure)
      throw new OutputWriteError(
        this.path,
        this.failure,
        { items: this.packetsWritten, events: this.packetsWritten, bytes: this.lastBoundary },
        { items: this.packetsLost, events: this.packetsLost },
        'packet',
        this.flag,
      );
  }
}
