// Ring buffer delivery: batches (many records per JS call), order, event-loop driven wakeups.
import { spawn } from 'node:child_process';
import { BpfObject, RingBufferReader, bpfArtifactPath, bpfObjectPath, type RecordBatch } from '@retrace/ebpf-loader';
import { waitFor } from '@retrace/e2e';

const RECORDS_PER_RUN = 32; // bpf/tests/ringbuf_bench.bpf.c

function open(): BpfObject {
  const obj = BpfObject.open(bpfObjectPath('tests/ringbuf_bench'));
  obj.setMapMaxEntries('bench_rb', 1 << 20);
  obj.load();
  return obj;
}

test('records arrive in order, many per callback, bounded by the batch limits', () => {
  const obj = open();
  try {
    const batches: number[] = [];
    const seqs: bigint[] = [];
    const rb = new RingBufferReader(
      obj.map('bench_rb'),
      (b: RecordBatch) => {
        batches.push(b.count);
        for (const r of b) {
          expect(r.length).toBe(64);
          seqs.push(r.readBigUInt64LE(0));
        }
      },
      { maxBatchRecords: 100 },
    );
    obj.program('produce_64').testRun(Buffer.alloc(64), { repeat: 10 }); // 320 records
    expect(rb.consume()).toBe(10 * RECORDS_PER_RUN);
    expect(batches).toEqual([100, 100, 100, 20]);
    expect(seqs).toEqual(Array.from({ length: 320 }, (_, i) => BigInt(i)));
    expect(obj.readGlobal('dropped').readBigUInt64LE()).toBe(0n);
    rb.close();
  } finally {
    obj.close();
  }
});

test('records are aligned for direct reads and large records keep their length', () => {
  const obj = open();
  try {
    let batch: RecordBatch | undefined;
    const rb = new RingBufferReader(obj.map('bench_rb'), (b) => {
      batch = b;
    });
    obj.program('produce_512').testRun(Buffer.alloc(64));
    rb.consume();
    expect(batch?.count).toBe(RECORDS_PER_RUN);
    for (let i = 0; i < (batch?.count ?? 0); i++) {
      expect((batch?.offset(i) ?? 1) % 8).toBe(0);
      expect(batch?.length(i)).toBe(512);
    }
    rb.close();
  } finally {
    obj.close();
  }
});

test('with start(), records produced by another process are delivered by the event loop', async () => {
  const obj = open();
  let total = 0;
  let calls = 0;
  const rb = new RingBufferReader(obj.map('bench_rb'), (b) => {
    total += b.count;
    calls++;
  }).start();
  try {
    const producer = spawn(bpfArtifactPath('bench/rb_producer'), [String(obj.program('produce_64').info().id), '0.3'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => producer.on('exit', r));
    await waitFor(() => total > 0, 'the first delivered batch');
    expect(await exited).toBe(0);
    const produced = Number(obj.readGlobal('produced').readBigUInt64LE());
    await waitFor(() => total === produced, `all ${produced} records`);
    expect(calls).toBeLessThan(total); // batching: fewer JS calls than records
  } finally {
    rb.close();
    obj.close();
  }
});

test('an exception in the handler goes to onError and delivery continues', () => {
  const obj = open();
  try {
    const errors: unknown[] = [];
    let seen = 0;
    const rb = new RingBufferReader(
      obj.map('bench_rb'),
      (b) => {
        seen += b.count;
        throw new Error('handler failed');
      },
      { maxBatchRecords: 16, onError: (e) => errors.push(e) },
    );
    obj.program('produce_64').testRun(Buffer.alloc(64));
    rb.consume();
    expect(seen).toBe(RECORDS_PER_RUN);
    expect(errors).toHaveLength(2);
    rb.close();
    expect(() => rb.consume()).toThrow(/closed/);
  } finally {
    obj.close();
  }
});

test('closing the reader from inside its own callback is safe', () => {
  const obj = open();
  try {
    let calls = 0;
    const rb: RingBufferReader = new RingBufferReader(
      obj.map('bench_rb'),
      () => {
        calls++;
        rb.close();
      },
      { maxBatchRecords: 4 },
    );
    obj.program('produce_64').testRun(Buffer.alloc(64));
    rb.consume();
    expect(calls).toBe(1);
  } finally {
    obj.close();
  }
});

test('records are read in place: the ring keeps them until the callback returns, copy() keeps them longer', () => {
  const obj = open();
  try {
    let pendingInside = -1;
    let kept: RecordBatch | undefined;
    let view: Buffer | undefined;
    const rb: RingBufferReader = new RingBufferReader(obj.map('bench_rb'), (b) => {
      pendingInside = rb.stats().pendingBytes ?? -1;
      kept = b.copy();
      view = b.record(0);
    });
    obj.program('produce_64').testRun(Buffer.alloc(64));
    rb.consume();
    // 32 records of 64 bytes plus 8-byte headers were still reserved while JS read them...
    expect(pendingInside).toBe(RECORDS_PER_RUN * 72);
    // ...and released once it returned.
    expect(rb.stats().pendingBytes).toBe(0);
    expect(kept?.count).toBe(RECORDS_PER_RUN);
    expect([...(kept ?? [])].map((r) => r.readUInt32LE(0))).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(view?.length).toBe(64);
    rb.close();
    // Views into the unmapped ring are emptied rather than left dangling.
    expect(view?.length).toBe(0);
    expect(kept?.record(5).readUInt32LE(0)).toBe(5);
  } finally {
    obj.close();
  }
});

test('a map that is not a ring buffer is refused', () => {
  const obj = open();
  try {
    const bss = obj.maps().find((m) => m.name.endsWith('.bss'))?.name ?? '';
    expect(() => new RingBufferReader(obj.map(bss), () => {})).toThrow(/is not a ring buffer/);
  } finally {
    obj.close();
  }
});
