// A datapath flow's unique id (ufid): 16 bytes the kernel keeps as four 32-bit words, which is
// how retis writes it (`ufid: [w0, w1, w2, w3]`); OVS prints it as a UUID.

/** The four words, from the 16 bytes in host (little-endian) order. */
export function ufidWords(b: Buffer, at = 0): number[] {
  return [0, 1, 2, 3].map((i) => b.readUInt32LE(at + 4 * i));
}

/** The ufid as ovs-dpctl and ovs-appctl print it (after `ufid:`). */
export function formatUfid(words: readonly number[]): string {
  const w = (i: number): number => words[i] ?? 0;
  const hex = (v: number, n: number): string => v.toString(16).padStart(n, '0');
  return `${hex(w(0), 8)}-${hex(w(1) >>> 16, 4)}-${hex(w(1) & 0xffff, 4)}-${hex(w(2) >>> 16, 4)}-${hex(w(2) & 0xffff, 4)}${hex(w(3), 8)}`;
}
