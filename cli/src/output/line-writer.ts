// Buffered, synchronous line output to a file or stdout: bounded memory, and everything is on
// disk when close() returns (also on the signal path, where async streams may not flush).
import { closeSync, openSync, writeSync } from 'node:fs';

export class LineWriter {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private chunks: string[] = [];
  private size = 0;
  private static readonly FLUSH_AT = 1 << 16;

  constructor(path: string) {
    if (path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      this.fd = openSync(path, 'w');
      this.ownsFd = true;
    }
  }

  line(text: string): void {
    this.chunks.push(text, '\n');
    this.size += text.length + 1;
    if (this.size >= LineWriter.FLUSH_AT) this.flush();
  }

  flush(): void {
    if (!this.chunks.length) return;
    const data = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    let buf = Buffer.from(data);
    while (buf.length) {
      try {
        const n = writeSync(this.fd, buf);
        buf = buf.subarray(n);
      } catch (e) {
        // stdout as a non-blocking pipe: wait for the reader rather than lose output
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    }
  }

  close(): void {
    this.flush();
    if (this.ownsFd) closeSync(this.fd);
  }
}
