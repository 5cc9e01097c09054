// Benchmark: ring buffer -> JS delivery rate against a C consumer (libbpf's ring buffer API) on
// the same kind of ring buffer, in the same run, two ways:
//  - live: a separate C process drives a BPF program through BPF_PROG_TEST_RUN as fast as it
//    can (32 records per run) while the consumer reads; producer and consumer share 2 cores,
//    and a consumer that sleeps often makes the producer pay for wake-ups.
//  - drain: the ring is filled first, then the consumer's time to empty it is measured: the
//    consumer's own capacity, with nothing else running.
import { spawn } from 'node:child_process';
import { BpfObject, RingBufferReader, bpfArtifactPath, bpfObjectPath, type RecordBatch } from '@retrace/ebpf-loader';

const SECONDS = Number(process.env['RETRACE_BENCH_SECONDS'] ?? 3);
const RING_BYTES = 4 << 20;
const DRAIN_RING_BYTES = 256 << 20;

interface Result {
  consumer: 'js' | 'c';
  recordSize: number;
  delivered: number;
  produced: number;
  dropped: number;
  rate: number;
}

function runChild(argv: string[], onLine?: (line: string) => void): Promise<string> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? '', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      const s = d.toString();
      out += s;
      for (const line of s.split('\n')) if (line) onLine?.(line);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

let seqSum = 0;

/** Reads each record's sequence number (low 32 bits) in place, as the C consumer does. */
function readSeqs(batch: RecordBatch): void {
  const v = batch.view;
  for (let i = 0; i < batch.count; i++) seqSum += v.getUint32(batch.offset(i), true);
}

function counters(obj: BpfObject): { produced: number; dropped: number } {
  return {
    produced: Number(obj.readGlobal('produced').readBigUInt64LE()),
    dropped: Number(obj.readGlobal('dropped').readBigUInt64LE()),
  };
}

function openBench(ringBytes = RING_BYTES): BpfObject {
  const obj = BpfObject.open(bpfObjectPath('tests/ringbuf_bench'));
  obj.setMapMaxEntries('bench_rb', ringBytes);
  obj.load();
  return obj;
}

/** Fills a big ring until a reservation fails; returns the loaded object and the record count. */
function filledRing(recordSize: 64 | 512): { obj: BpfObject; records: number } {
  const obj = openBench(DRAIN_RING_BYTES);
  const prog = obj.program(`produce_${recordSize}`);
  const pkt = Buffer.alloc(64);
  while (counters(obj).dropped === 0) prog.testRun(pkt, { repeat: 4096 });
  return { obj, records: counters(obj).produced };
}

async function drainC(recordSize: 64 | 512): Promise<number> {
  const { obj, records } = filledRing(recordSize);
  try {
    const out = await runChild([bpfArtifactPath('bench/rb_consumer'), String(obj.map('bench_rb').id), '--drain']);
    const r = JSON.parse(out.trim()) as { records: number; seconds: number };
    if (r.records !== records) throw new Error(`C consumer drained ${r.records} of ${records}`);
    return r.records / r.seconds;
  } finally {
    obj.close();
  }
}

function drainJs(recordSize: 64 | 512): number {
  const { obj, records } = filledRing(recordSize);
  let seen = 0;
  const rb = new RingBufferReader(obj.map('bench_rb'), (batch) => {
    seen += batch.count;
    readSeqs(batch);
  });
  try {
    const t0 = process.hrtime.bigint();
    rb.consume();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (seen !== records) throw new Error(`JS consumer drained ${seen} of ${records}`);
    return seen / seconds;
  } finally {
    rb.close();
    obj.close();
  }
}

async function measureJs(recordSize: 64 | 512): Promise<Result> {
  const obj = openBench();
  let delivered = 0;
  const rb = new RingBufferReader(obj.map('bench_rb'), (batch) => {
    delivered += batch.count;
    readSeqs(batch);
  }).start();
  try {
    const prog = `produce_${recordSize}`;
    const producer = bpfArtifactPath('bench/rb_producer');
    await runChild([producer, String(obj.program(prog).info().id), String(SECONDS)]);
    rb.consume();
    const c = counters(obj);
    return { consumer: 'js', recordSize, delivered, ...c, rate: delivered / SECONDS };
  } finally {
    rb.close();
    obj.close();
  }
}

async function measureC(recordSize: 64 | 512): Promise<Result> {
  const obj = openBench();
  try {
    const prog = `produce_${recordSize}`;
    const consumerBin = bpfArtifactPath('bench/rb_consumer');
    const producer = bpfArtifactPath('bench/rb_producer');
    let startProducer: () => void = () => {};
    const ready = new Promise<void>((r) => (startProducer = r));
    const consumer = runChild([consumerBin, String(obj.map('bench_rb').id), String(SECONDS + 0.5)], (line) => {
      if (line === 'ready') startProducer();
    });
    await ready;
    await runChild([producer, String(obj.program(prog).info().id), String(SECONDS)]);
    const out = await consumer;
    const last = out.trim().split('\n').pop() ?? '{}';
    const { records } = JSON.parse(last) as { records: number };
    return { consumer: 'c', recordSize, delivered: records, ...counters(obj), rate: records / SECONDS };
  } finally {
    obj.close();
  }
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n));
}

async function main(): Promise<void> {
  console.log(`ring buffer -> consumer delivery (records/s), same machine, same run`);
  console.log(
    `live: ${SECONDS}s per run, ${RING_BYTES >> 20} MiB ring, 1 producer process; drain: ${DRAIN_RING_BYTES >> 20} MiB ring filled first`,
  );
  console.log('record  mode   consumer  delivered/s   produced  reserve-failed  ratio js/c');
  const live: string[] = [];
  const drain: string[] = [];
  let liveOk = true;
  for (const size of [64, 512] as const) {
    const c = await measureC(size);
    const js = await measureJs(size);
    const ratio = js.rate / c.rate;
    for (const r of [c, js])
      console.log(
        `${String(size).padStart(6)}  live   ${r.consumer.padEnd(8)}  ${fmt(r.rate).padStart(11)}  ${fmt(r.produced).padStart(9)}  ${fmt(r.dropped).padStart(14)}` +
          (r.consumer === 'js' ? `  ${ratio.toFixed(2)}x` : ''),
      );
    live.push(`${size}B ${ratio.toFixed(2)}x`);
    if (ratio < 0.5) liveOk = false;
    const dc = await drainC(size);
    const dj = drainJs(size);
    console.log(`${String(size).padStart(6)}  drain  c         ${fmt(dc).padStart(11)}`);
    console.log(
      `${String(size).padStart(6)}  drain  js        ${fmt(dj).padStart(11)}  ${''.padStart(9)}  ${''.padStart(14)}  ${(dj / dc).toFixed(2)}x`,
    );
    drain.push(`${size}B ${(dj / dc).toFixed(2)}x`);
  }
  if (seqSum < 0) console.log(seqSum); // keeps the reads observable
  console.log(
    `goal (JS delivery >= 0.5x C while a BPF producer runs flat out): ${liveOk ? 'met' : 'missed'} (${live.join(', ')})`,
  );
  console.log(`consumer capacity alone (draining a filled ring): JS/C ${drain.join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
