// The store's checksum: CRC-32 as zlib and PNG have it, native or from the table, same values.
import { crc32, crc32Table } from '../../src/store/crc32.js';

test('CRC-32 of the standard check string, natively and by the table, over any part of a buffer', () => {
  const check = Buffer.from('123456789');
  expect(crc32(check, 0, check.length)).toBe(0xcbf43926);
  expect(crc32Table(check)).toBe(0xcbf43926);
  const b = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
  for (const [s, e] of [
    [0, 1000],
    [3, 250],
    [999, 1000],
    [10, 10],
  ] as const)
    expect(crc32(b, s, e)).toBe(crc32Table(b, s, e));
  expect(crc32Table(b, 10, 10)).toBe(0);
});
