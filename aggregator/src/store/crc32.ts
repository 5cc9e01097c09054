// CRC-32 (the zlib/PNG polynomial) of the store's records. node:zlib has it natively from Node
// 20.15 (a few GB/s); older Nodes (package.json allows >= 20) get the table-driven function below,
// which gives the same values.
import * as zlib from 'node:zlib';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `b[start, end)`, one byte at a time through a 256-entry table. */
export function crc32Table(b: Uint8Array, start = 0, end = b.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (TABLE[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `b[start, end)` (unsigned). */
export const crc32: (b: Uint8Array, start: number, end: number) => number = native
  ? (b, start, end) => native(b.subarray(start, end))
  : crc32Table;
