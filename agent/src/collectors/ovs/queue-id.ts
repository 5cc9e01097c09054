// The id both sides give an upcall (bpf/collectors/ovs/shared.bpf.h computes the same): Bob Jenkins'
// lookup3 hash, as the kernel's jhash, of the packet's first 64 bytes (zero-padded), seed 0.
const BYTES = 64;

const rol = (w: number, s: number): number => ((w << s) | (w >>> (32 - s))) >>> 0;

export function ovsQueueId(packet: Uint8Array): number {
  const k = new Uint8Array(BYTES);
  k.set(packet.subarray(0, BYTES));
  const dv = new DataView(k.buffer);
  let a = (0xdeadbeef + BYTES) >>> 0;
  let b = a;
  let c = a;
  for (let i = 0; i < 60; i += 12) {
    a = (a + dv.getUint32(i, true)) >>> 0;
    b = (b + dv.getUint32(i + 4, true)) >>> 0;
    c = (c + dv.getUint32(i + 8, true)) >>> 0;
    a = ((a - c) ^ rol(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rol(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rol(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = ((a - c) ^ rol(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rol(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rol(b, 4)) >>> 0;
    b = (b + a) >>> 0;
  }
  a = (a + dv.getUint32(60, true)) >>> 0;
  c = ((c ^ b) - rol(b, 14)) >>> 0;
  a = ((a ^ c) - rol(c, 11)) >>> 0;
  b = ((b ^ a) - rol(a, 25)) >>> 0;
  c = ((c ^ b) - rol(b, 16)) >>> 0;
  a = ((a ^ c) - rol(c, 4)) >>> 0;
  b = ((b ^ a) - rol(a, 14)) >>> 0;
  c = ((c ^ b) - rol(b, 24)) >>> 0;
  return c;
}
