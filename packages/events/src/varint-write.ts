// Protobuf varints written straight into a byte array, for the encoders that write messages by
// hand (the agent's batches, the store's records): no writer object, no bigint.

/** Bytes the varint of a uint32 takes. */
export const varintLength = (v: number): number =>
  v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;

/** Writes the uint32 `v` as a varint at `p`; returns where it ends. */
export function putVarint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Writes a uint64 given as its unsigned 32-bit halves as a varint at `p`; returns where it ends. */
export function putVarint64(b: Uint8Array, p: number, hi: number, lo: number): number {
  while (hi !== 0) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 0x7f) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  b[p++] = lo;
  return p;
}
