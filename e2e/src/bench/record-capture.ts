// Raw ring buffer records of a live capture, kept to be replayed through the userspace path
// without the kernel: iperf3 over a veth pair between two namespaces, traced the way
// iperf-trace.ts traces it, every batch copied as the ring delivered it. A capture can be saved
// to a file and read back (no root needed to replay).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { RecordBatch } from '@retrace/ebpf-loader';
import { TracingSession, type ProbeIdentity } from '@retrace/agent';
import { Netns } from '../lab/netns.js';

export const COLLECTORS = ['skb', 'skb-drop', 'skb-tracking', 'dev', 'ns'];
/** What `retrace collect` reports of the skb collector by default (retis's default). */
export const SKB_SECTIONS: ReadonlySet<string> = new Set(['packet']);
export const TRACEPOINTS = ['net:netif_receive_skb', 'net:net_dev_start_xmit', 'skb:consume_skb', 'skb:kfree_skb'];

export interface Capture {
  /** Probe identities by probe id, as the session had them. */
  probes: ProbeIdentity[];
  /** Every record, 8-byte aligned, in ring order. */
  data: Buffer;
  /** Per batch: offset and length of each record in `data`, as the ring delivered them. */
  batches: Uint32Array[];
  records: number;
}

const MAGIC = 'retrace-records-1';

function copyBatch(batch: RecordBatch, chunks: Buffer[], at: { bytes: number }): Uint32Array {
  const offs = new Uint32Array(batch.count * 2);
  for (let i = 0; i < batch.count; i++) {
    const len = batch.length(i);
    const padded = (len + 7) & ~7;
    const copy = Buffer.alloc(padded);
    batch.buffer.copy(copy, 0, batch.offset(i), batch.offset(i) + len);
    chunks.push(copy);
    offs[2 * i] = at.bytes;
    offs[2 * i + 1] = len;
    at.bytes += padded;
  }
  return offs;
}

/** Traces iperf3 for `seconds` (root, real kernel), keeping at most `maxRecords` records. */
export async function captureLive(seconds: number, maxRecords: number): Promise<Capture> {
  const a = Netns.create('cu-a');
  const b = Netns.create('cu-b');
  const chunks: Buffer[] = [];
  const batches: Uint32Array[] = [];
  const at = { bytes: 0 };
  let records = 0;
  try {
    a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
    a.ip('addr', 'add', '10.97.0.1/24', 'dev', 'va');
    b.ip('addr', 'add', '10.97.0.2/24', 'dev', 'vb');
    a.ip('link', 'set', 'va', 'up');
    b.ip('link', 'set', 'vb', 'up');
    const session = TracingSession.start({
      collectors: COLLECTORS,
      probes: TRACEPOINTS.map((t) => `tp:${t}`),
      skbSections: SKB_SECTIONS,
      onJson: () => {},
      onRecords: (batch) => {
        if (records >= maxRecords) return;
        batches.push(copyBatch(batch, chunks, at));
        records += batch.count;
      },
    });
    const probes = session.probes.map((p) => ({ symbol: p.symbol, probeType: p.probeType }));
    try {
      const server = spawn('ip', ['netns', 'exec', b.name, 'iperf3', '-s', '-1'], { stdio: 'ignore' });
      const exited = new Promise<void>((r) => server.on('exit', () => r()));
      spawnSync('sleep', ['0.3']);
      // Async, so that the session's ring buffer is read while iperf3 runs.
      await new Promise<void>((resolve, reject) => {
        const c = spawn('ip', ['netns', 'exec', a.name, 'iperf3', '-c', '10.97.0.2', '-t', String(seconds)], {
          stdio: 'ignore',
        });
        c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`iperf3 exited ${code}`))));
      });
      server.kill();
      await exited;
    } finally {
      session.stop();
    }
    return { probes, data: Buffer.concat(chunks, at.bytes), batches, records };
  } finally {
    a.destroy();
    b.destroy();
  }
}

/** The batches of a capture, as RecordBatch objects over its data. */
export function recordBatches(c: Capture): RecordBatch[] {
  const view = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  return c.batches.map((offs) => new RecordBatch(c.data, offs, offs.length / 2, view));
}

export function saveCapture(c: Capture, path: string): void {
  const head = JSON.stringify({ magic: MAGIC, probes: c.probes, batches: c.batches.map((b) => b.length / 2) });
  const offsets = Buffer.concat(c.batches.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  writeFileSync(path, Buffer.concat([Buffer.from(`${head}\n`), offsets, c.data]));
}

export function loadCapture(path: string): Capture | undefined {
  if (!existsSync(path)) return undefined;
  const file = readFileSync(path);
  const nl = file.indexOf(10);
  const head = JSON.parse(file.toString('utf8', 0, nl)) as {
    magic: string;
    probes: ProbeIdentity[];
    batches: number[];
  };
  if (head.magic !== MAGIC) throw new Error(`${path} is not a capture of this benchmark (${MAGIC})`);
  let at = nl + 1;
  const batches = head.batches.map((n) => {
    const offs = new Uint32Array(n * 2);
    for (let i = 0; i < n * 2; i++) offs[i] = file.readUInt32LE(at + 4 * i);
    at += n * 8;
    return offs;
  });
  const data = Buffer.from(file.subarray(at));
  return { probes: head.probes, data, batches, records: head.batches.reduce((x, y) => x + y, 0) };
}
