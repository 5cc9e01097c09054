// How translated filters read packet bytes (cbpf-to-ebpf.ts): registers and stack layout of the
// translated code, and the three ways of loading, best first:
// - direct: `data` is a read-only pointer (bpf_rdonly_cast(p, 0), kernels 6.17+) and every load
//   is one instruction, at any offset, that the JIT guards against faults;
// - prefetch: the first PREFETCH_BYTES are copied to the stack once (one helper call) and loads
//   inside them read the copy; the others go through the helper;
// - helper: one bpf_probe_read_kernel per load (the compat probe: no stack left for the copy).
// Every mode checks each load against the capture length first: past it, no match (cBPF's rule).
// Within it the bytes are the skb's linear data; a read that faults anyway (none should) gives
// no match through the helper, zeros through a direct load.
import { Alu, Assembler, Cls, HELPER_PROBE_READ_KERNEL, Jmp, R, Size } from './ebpf-asm.js';

export type LoadMode = 'direct' | 'prefetch' | 'helper';

export const A = R.r7;
export const X = R.r8;
export const DATA = R.r9;
export const CAPLEN = R.r6;
// r6-r9 need no saving: the placeholder is a BPF-to-BPF subprogram, whose frame the kernel
// gives fresh callee-saved registers (the verifier even refuses reading them before writing).
// 80 bytes of stack: the probes' own frames leave room for this much under the 512 limit.
export const WIRELEN_SLOT = -4;
export const MEM_SLOT = (k: number): number => -8 - 4 * k; // M[0..15] at fp-8 .. fp-68 (32-bit words)
const SCRATCH = -80;
const PREFETCH_BYTES = 64;
const PREFETCH = -80 - PREFETCH_BYTES;
/** Stack bytes the translated code uses in the placeholder's frame. */
export const FILTER_STACK_BYTES = 80 + PREFETCH_BYTES;

type LoadSize = 1 | 2 | 4;
const sizeCode = (size: LoadSize): number => (size === 4 ? Size.W : size === 2 ? Size.H : Size.B);

/** Host order (what a load gives) to network order (what cBPF loads give). */
function toNetworkOrder(a: Assembler, dst: number, size: LoadSize): void {
  if (size > 1) a.toBe(dst, size === 4 ? 32 : 16);
}

/**
 * Reads `size` bytes at DATA + offset (register `off`, already bounds-checked) into `dst`, in
 * network order, through the helper; jumps to ret0 when the read fails.
 */
function emitHelperLoad(a: Assembler, dst: number, off: number, size: LoadSize): void {
  a.mov64Reg(R.r3, DATA).alu64Reg(Alu.ADD, R.r3, off);
  a.mov64Reg(R.r1, R.fp).alu64Imm(Alu.ADD, R.r1, SCRATCH);
  a.mov64Imm(R.r2, size);
  a.call(HELPER_PROBE_READ_KERNEL);
  a.jmpImm(Cls.JMP, Jmp.JNE, R.r0, 0, 'ret0');
  a.load(sizeCode(size), dst, R.fp, SCRATCH);
  toNetworkOrder(a, dst, size);
}

/** Whether a load reads from the prefetched bytes: a fixed offset inside them. */
export function prefetched(k: number, size: number, indexed: boolean): boolean {
  return !indexed && k + size <= PREFETCH_BYTES;
}

/**
 * Copies the first min(caplen, PREFETCH_BYTES) bytes to the stack (zeroed first, so that the
 * verifier sees it written); a failed copy is a failed load: no match.
 */
export function emitPrefetch(a: Assembler): void {
  for (let off = 0; off < PREFETCH_BYTES; off += 8) a.storeImm(Size.DW, R.fp, PREFETCH + off, 0);
  a.mov64Reg(R.r2, CAPLEN);
  a.jmpImm(Cls.JMP, Jmp.JLE, R.r2, PREFETCH_BYTES, 'prefetch');
  a.mov64Imm(R.r2, PREFETCH_BYTES);
  a.label('prefetch');
  a.mov64Reg(R.r1, R.fp).alu64Imm(Alu.ADD, R.r1, PREFETCH);
  a.mov64Reg(R.r3, DATA);
  a.call(HELPER_PROBE_READ_KERNEL);
  a.jmpImm(Cls.JMP, Jmp.JNE, R.r0, 0, 'ret0');
}

/** Loads `size` bytes at base + off (a constant) from the stack copy, in network order. */
function emitStackLoad(a: Assembler, dst: number, base: number, off: number, size: LoadSize): void {
  // The verifier wants stack loads aligned to their size: others are put together from bytes.
  if (base === R.fp && off % size === 0) {
    a.load(sizeCode(size), dst, R.fp, off);
    toNetworkOrder(a, dst, size);
    return;
  }
  a.load(Size.B, dst, base, off);
  for (let b = 1; b < size; b++) {
    a.load(Size.B, R.r5, base, off + b);
    a.alu32Imm(Alu.LSH, dst, 8).alu32Reg(Alu.OR, dst, R.r5);
  }
}

/** Bounds check then load for ABS (k) or IND (X + k) addressing, into `dst` in network order. */
export function emitPacketLoad(
  a: Assembler,
  dst: number,
  k: number,
  size: LoadSize,
  indexed: boolean,
  mode: LoadMode,
): void {
  if (!indexed && k + size <= 0x7fffffff) {
    // A constant offset: one comparison (32-bit: the argument's upper half is not ours).
    a.jmpImm(Cls.JMP32, Jmp.JLT, CAPLEN, k + size, 'ret0');
    if (mode === 'direct' && k <= 0x7fff) {
      a.load(sizeCode(size), dst, DATA, k);
      toNetworkOrder(a, dst, size);
    } else if (mode === 'prefetch' && prefetched(k, size, false)) {
      emitStackLoad(a, dst, R.fp, PREFETCH + k, size);
    } else {
      a.mov32Imm(R.r4, k);
      emitLoadAt(a, dst, size, mode);
    }
    return;
  }
  // r4 = offset (u32 arithmetic as in cBPF), r5 = offset + size (64-bit: no wrap)
  if (indexed) a.mov32Reg(R.r4, X).alu32Imm(Alu.ADD, R.r4, k);
  else a.mov32Imm(R.r4, k);
  a.mov64Reg(R.r5, R.r4).alu64Imm(Alu.ADD, R.r5, size);
  a.jmpReg(Cls.JMP, Jmp.JGT, R.r5, CAPLEN, 'ret0');
  if (mode === 'prefetch' && indexed) {
    // X + k is known only at run time: from the copy when it falls inside it (r4 bounded for
    // the verifier, which allows a variable stack offset to privileged programs), else read.
    const slow = a.newLabel();
    const done = a.newLabel();
    a.jmpImm(Cls.JMP, Jmp.JGT, R.r4, PREFETCH_BYTES - size, slow);
    a.mov64Reg(R.r3, R.fp).alu64Imm(Alu.ADD, R.r3, PREFETCH).alu64Reg(Alu.ADD, R.r3, R.r4);
    emitStackLoad(a, dst, R.r3, 0, size);
    a.ja(done);
    a.label(slow);
    emitHelperLoad(a, dst, R.r4, size);
    a.label(done);
  } else emitLoadAt(a, dst, size, mode);
}

/** Load at DATA + r4 (bounds-checked): a plain load in direct mode, else through the helper. */
function emitLoadAt(a: Assembler, dst: number, size: LoadSize, mode: LoadMode): void {
  if (mode !== 'direct') {
    emitHelperLoad(a, dst, R.r4, size);
    return;
  }
  a.mov64Reg(R.r3, DATA).alu64Reg(Alu.ADD, R.r3, R.r4);
  a.load(sizeCode(size), dst, R.r3, 0);
  toNetworkOrder(a, dst, size);
}
