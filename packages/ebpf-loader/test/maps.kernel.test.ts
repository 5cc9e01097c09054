// Map operations on real kernel maps: single, iteration, batch, per-CPU, and bad input.
import { BpfMap, MapError, MapType, rawNative } from '@retrace/ebpf-loader';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

test('hash map: update, lookup, delete, iterate', () => {
  const m = BpfMap.create({ name: 'rt_test_hash', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64 });
  try {
    for (let i = 1; i <= 10; i++) m.update(i, u64(BigInt(i * 100)));
    expect(m.lookup(3)?.readBigUInt64LE()).toBe(300n);
    expect(m.lookup(99)).toBeNull();
    expect(m.delete(3)).toBe(true);
    expect(m.delete(3)).toBe(false);
    const keys = [...m.keys()].map((k) => k.readUInt32LE()).sort((a, b) => a - b);
    expect(keys).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(() => m.update(1, u64(1n), 'noexist')).toThrow(MapError);
    m.update(1, u64(7n), 'exist');
    expect(m.lookup(1)?.readBigUInt64LE()).toBe(7n);
  } finally {
    m.close();
  }
});

test('batch lookup reads everything across batches, and can delete what it read', () => {
  const m = BpfMap.create({ name: 'rt_test_batch', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1024 });
  try {
    const entries: [Buffer, Buffer][] = [];
    for (let i = 0; i < 500; i++) entries.push([u32(i), u64(BigInt(i) * 3n)]);
    expect(m.updateBatch(entries)).toBe(500);
    const all = m.lookupAll({ batchSize: 64 });
    expect(all).toHaveLength(500);
    for (const [k, v] of all) expect(v.readBigUInt64LE()).toBe(BigInt(k.readUInt32LE()) * 3n);
    expect(m.deleteBatch([0, 1, 2].map(u32))).toBe(3);
    expect(m.lookupAll({ deleteRead: true })).toHaveLength(497);
    expect([...m.keys()]).toHaveLength(0);
  } finally {
    m.close();
  }
});

test('per-CPU arrays give one value per possible CPU', () => {
  const m = BpfMap.create({
    name: 'rt_test_pcpu',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 4,
    maxEntries: 2,
  });
  try {
    const cpus = rawNative.numPossibleCpus();
    expect(m.syscallValueSize).toBe(8 * cpus);
    const v = Buffer.alloc(m.syscallValueSize);
    for (let c = 0; c < cpus; c++) v.writeUInt32LE(c + 10, c * 8);
    m.update(1, v);
    expect(m.lookupPerCpu(1)?.map((b) => b.readUInt32LE())).toEqual(Array.from({ length: cpus }, (_, c) => c + 10));
  } finally {
    m.close();
  }
});

test('wrong key or value sizes are refused with the sizes named', () => {
  const m = BpfMap.create({ name: 'rt_test_sizes', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
  try {
    expect(() => m.lookup(Buffer.alloc(2))).toThrow(/key is 2 bytes, the map's keys are 4/);
    expect(() => m.update(0, Buffer.alloc(3))).toThrow(/value is 3 bytes, expected 8/);
    expect(() => m.update(9, Buffer.alloc(8))).toThrow(/rt_test_sizes: update failed/);
  } finally {
    m.close();
  }
});
