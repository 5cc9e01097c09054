// A full disk, for real: a 256 KiB tmpfs that sort, pcap and collect overflow. The error names
// the file, says the disk is full and counts what was written and lost; what was written reads
// back whole (cut at the last complete line or pcap-ng block).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runRetrace } from '@retrace/e2e';
import { PcapngWriter, parseLine, readCapture, stringifyEvent, type Event } from '@retrace/events';
import { PcapngFile } from '../../src/output/pcapng-file.js';
import { OutputWriteError } from '../../src/output/write-error.js';
import { fixture, tempDir } from '../helpers/files.js';

const tmp = tempDir('rt-full-');
const disk = join(tmp.dir, 'disk');
let mounted = false;

beforeAll(() => {
  execFileSync('mkdir', [disk]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  mounted = true;
});

afterAll(() => {
  if (mounted) execFileSync('umount', [disk]);
  tmp.remove();
});

beforeEach(() => {
  for (const f of readdirSync(disk)) rmSync(join(disk, f));
});

/** The lines of a file, each parsed: throws on a cut or broken line. */
function readBack(path: string): (Event | Event[])[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .slice(0, -1)
    .map((l, i) => parseLine(l, i + 1));
}

const num = (m: RegExpMatchArray | null, i: number): number => Number(m?.[i] ?? NaN);

test('sort -o onto a full disk: named, counted, and the series written read back', () => {
  const input = join(tmp.dir, 'big.data');
  writeFileSync(input, readFileSync(fixture('test_events.jsonl'), 'utf8').repeat(200)); // 1000 events, ~540 KB
  const out = join(disk, 'sorted.data');
  const r = runRetrace(['sort', input, '-o', out, '--max-buffer', '100']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cannot write ${out}: the disk is full`);
  const kept = r.stderr.match(
    /holds the (\d+) series \((\d+) events\) written before \((\d+) bytes\), complete and readable/,
  );
  const lost = r.stderr.match(/(\d+) series \((\d+) events\) could not be written and are lost/);
  expect(kept).not.toBeNull();
  expect(lost).not.toBeNull();
  expect(num(kept, 2) + num(lost, 2)).toBe(1000);
  expect(r.stderr).toMatch(/free some space, or choose another -o/);
  const series = readBack(out);
  expect(series.length).toBe(num(kept, 1));
  expect(series.flat().length).toBe(num(kept, 2));
  expect(statSync(out).size).toBe(num(kept, 3));
  expect(num(kept, 1)).toBeGreaterThan(0);
});

/** `n` events that carry packet bytes (an Ethernet frame of `size` bytes each). */
function packetEvents(n: number, size: number): Event[] {
  const frame = Buffer.alloc(size, 0x41);
  frame.writeUInt16BE(0x0800, 12);
  return Array.from({ length: n }, (_, i) => ({
    common: { timestamp: BigInt(1000 + i) },
    kernel: { symbol: 'net_dev_start_xmit', probe_type: 'raw_tracepoint' },
    packet: { len: size, capture_len: size, data: frame.toString('base64') },
  }));
}

test('pcap -o onto a full disk: the packets written open as a capture, the rest are counted lost', () => {
  const input = join(tmp.dir, 'packets.data');
  writeFileSync(
    input,
    packetEvents(1500, 300)
      .map((e) => `${stringifyEvent(e)}\n`)
      .join(''),
  );
  const out = join(disk, 'p.pcapng');
  const r = runRetrace(['pcap', input, '-o', out]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cannot write ${out}: the disk is full`);
  const kept = r.stderr.match(/holds the (\d+) packets written before \((\d+) bytes\)/);
  const lost = r.stderr.match(/(\d+) packets could not be written and are lost/);
  expect(num(kept, 1) + num(lost, 1)).toBe(1500);
  const packets = readCapture(readFileSync(out));
  expect(packets.length).toBe(num(kept, 1));
  expect(statSync(out).size).toBe(num(kept, 2));
});

test('a pcap-ng stream in chunks of any size is cut at its last whole block', () => {
  const writer = new PcapngWriter({ application: 'test' });
  for (const ev of packetEvents(1200, 250)) writer.addEvent(ev, 'raw_tracepoint/net_dev_start_xmit', 0n, 'text');
  const whole = writer.toBuffer();
  const out = join(disk, 'stream.pcapng');
  const file = new PcapngFile(out);
  for (let at = 0; at < whole.length; at += 777) file.write(whole.subarray(at, at + 777));
  let error: unknown;
  try {
    file.close();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(OutputWriteError);
  const e = error as OutputWriteError;
  expect(e.errno.code).toBe('ENOSPC');
  expect(e.written.items + e.lost.items).toBe(1200);
  expect(readCapture(readFileSync(out)).length).toBe(e.written.items);
  expect(statSync(out).size).toBe(e.written.bytes);
});

test('collect -o onto a full disk stops, says what it wrote and lost, and the file reads back', () => {
  const out = join(disk, 'c.data');
  const r = runRetrace(['collect', '-c', 'skb', '-o', out, '--cmd', 'ping -f -c 3000 -q 127.0.0.1 >/dev/null']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`stopped: cannot write ${out}`);
  expect(r.stderr).toContain(`cannot write ${out}: the disk is full`);
  const kept = r.stderr.match(/holds the (\d+) events written before \((\d+) bytes\), complete and readable/);
  const lost = r.stderr.match(/(\d+) events could not be written and are lost/);
  expect(lost).not.toBeNull();
  const events = readBack(out);
  expect(events.length).toBe(num(kept, 1));
  expect(statSync(out).size).toBe(num(kept, 2));
  expect((events[0] as Event).startup).toBeDefined();
});
