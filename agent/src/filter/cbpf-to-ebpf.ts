// Classic BPF (libpcap's output) -> eBPF, spliced in place of a filter placeholder call.
//
// Calling convention at the placeholder: r1 = packet data (a kernel address; for direct loads a
// read-only pointer to it, packet-loads.ts), r2 = bytes that may be read (capture length), r3 =
// the packet's length on the wire (cBPF `len`). The code leaves r0 = 0 (no match) or the
// filter's non-zero return value and falls through to the instruction after the placeholder.
// A load past the capture, or a division by zero, returns 0 as in classic BPF. No interpreter:
// every cBPF instruction becomes eBPF. How packet bytes are read (plain loads, a copy of the
// headers, a helper call per load) is packet-loads.ts's.
import type { CbpfInstruction } from '@retrace/ebpf-loader';
import { Alu, Assembler, Cls, Jmp, R, Size } from './ebpf-asm.js';
import {
  A,
  CAPLEN,
  DATA,
  MEM_SLOT,
  WIRELEN_SLOT,
  X,
  emitPacketLoad,
  emitPrefetch,
  prefetched,
  type LoadMode,
} from './packet-loads.js';

/** The kernel verifies programs of at most 1M instructions, but filters stay small. */
export const FILTER_MAX_INSNS = 4096;

export class FilterTranslationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterTranslationError';
  }
}

const CLASS = (c: number): number => c & 0x07;
const SIZE = (c: number): number => c & 0x18;
const MODE = (c: number): number => c & 0xe0;
const OP = (c: number): number => c & 0xf0;
const SRC_X = (c: number): boolean => (c & 0x08) !== 0;
const BPF = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, RET: 6, MISC: 7 };
const MODE_ = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0 };
const SIZE_BYTES: Record<number, 1 | 2 | 4> = { 0x00: 4, 0x08: 2, 0x10: 1 };

const ALU_OPS: Record<number, number> = {
  0x00: Alu.ADD,
  0x10: Alu.SUB,
  0x20: Alu.MUL,
  0x30: Alu.DIV,
  0x40: Alu.OR,
  0x50: Alu.AND,
  0x60: Alu.LSH,
  0x70: Alu.RSH,
  0x90: Alu.MOD,
  0xa0: Alu.XOR,
};
const JMP_OPS: Record<number, number> = { 0x10: Jmp.JEQ, 0x20: Jmp.JGT, 0x30: Jmp.JGE, 0x40: Jmp.JSET };

export interface TranslateOptions {
  /**
   * Plain loads from the packet (default false): the caller hands the filter a pointer the
   * verifier lets it load from at any offset (bpf_rdonly_cast(p, 0), kernels 6.17+; the
   * `direct_packet` feature). Wins over `prefetch`.
   */
  direct?: boolean;
  /**
   * Copy the first bytes once (default true). Off for probe_compat.bpf.o, whose probes keep a
   * copy of the sk_buff on their own stack and have no room left for it (512 bytes in all).
   */
  prefetch?: boolean;
}

/** Translates a classic BPF program; throws when it is invalid or too long. */
export function translateFilter(prog: CbpfInstruction[], opts: TranslateOptions = {}): Buffer {
  if (prog.length === 0) throw new FilterTranslationError('empty classic BPF program');
  const a = new Assembler();
  const usesMem = prog.some(
    (i) =>
      (CLASS(i.code) <= BPF.LDX && MODE(i.code) === MODE_.MEM) || CLASS(i.code) === BPF.ST || CLASS(i.code) === BPF.STX,
  );

  // Prologue: take the arguments, zero A, X and (if used) M[].
  a.store(Size.W, R.fp, WIRELEN_SLOT, R.r3);
  a.mov64Reg(DATA, R.r1).mov64Reg(CAPLEN, R.r2).mov32Imm(A, 0).mov32Imm(X, 0);
  if (usesMem) for (let k = 0; k < 16; k++) a.storeImm(Size.W, R.fp, MEM_SLOT(k), 0);
  // Worth a copy when two loads or more would come from it.
  const fixedLoads = prog.filter(
    (i) =>
      (CLASS(i.code) === BPF.LD &&
        MODE(i.code) === MODE_.ABS &&
        prefetched(i.k, SIZE_BYTES[SIZE(i.code)] ?? 4, false)) ||
      (CLASS(i.code) === BPF.LDX && MODE(i.code) === MODE_.MSH && prefetched(i.k, 1, false)),
  ).length;
  const loads: LoadMode = opts.direct ? 'direct' : (opts.prefetch ?? true) && fixedLoads >= 2 ? 'prefetch' : 'helper';
  if (loads === 'prefetch') emitPrefetch(a);

  prog.forEach((insn, i) => {
    a.label(`c${i}`);
    const { code, k } = insn;
    const target = (rel: number): string => {
      const t = i + 1 + rel;
      if (t >= prog.length) throw new FilterTranslationError(`instruction ${i} jumps past the end of the program`);
      return `c${t}`;
    };
    switch (CLASS(code)) {
      case BPF.LD:
      case BPF.LDX: {
        const dst = CLASS(code) === BPF.LD ? A : X;
        const mode = MODE(code);
        if (mode === MODE_.IMM) a.mov32Imm(dst, k);
        else if (mode === MODE_.LEN) a.load(Size.W, dst, R.fp, WIRELEN_SLOT);
        else if (mode === MODE_.MEM) {
          if (k > 15) throw new FilterTranslationError(`instruction ${i}: scratch memory M[${k}] out of range`);
          a.load(Size.W, dst, R.fp, MEM_SLOT(k));
        } else if ((mode === MODE_.ABS || mode === MODE_.IND) && dst === A) {
          const size = SIZE_BYTES[SIZE(code)];
          if (!size) throw new FilterTranslationError(`instruction ${i}: bad load size`);
          emitPacketLoad(a, A, k, size, mode === MODE_.IND, loads);
        } else if (mode === MODE_.MSH && dst === X) {
          // X = 4 * (P[k] & 0xf): the IPv4 header length idiom
          emitPacketLoad(a, X, k, 1, false, loads);
          a.alu32Imm(Alu.AND, X, 0xf).alu32Imm(Alu.LSH, X, 2);
        } else throw new FilterTranslationError(`instruction ${i}: unsupported load 0x${code.toString(16)}`);
        break;
      }
      case BPF.ST:
      case BPF.STX:
        if (k > 15) throw new FilterTranslationError(`instruction ${i}: scratch memory M[${k}] out of range`);
        a.store(Size.W, R.fp, MEM_SLOT(k), CLASS(code) === BPF.ST ? A : X);
        break;
      case BPF.ALU: {
        const op = OP(code);
        if (op === 0x80) {
          a.emit(Cls.ALU | Alu.NEG, A, 0, 0, 0);
          break;
        }
        const eop = ALU_OPS[op];
        if (eop === undefined) throw new FilterTranslationError(`instruction ${i}: unknown ALU operation`);
        if (SRC_X(code)) {
          if (eop === Alu.DIV || eop === Alu.MOD) a.jmpImm(Cls.JMP32, Jmp.JEQ, X, 0, 'ret0');
          a.alu32Reg(eop, A, X);
        } else {
          if ((eop === Alu.DIV || eop === Alu.MOD) && k === 0) {
            a.ja('ret0');
            break;
          }
          a.alu32Imm(eop, A, k);
        }
        break;
      }
      case BPF.JMP: {
        const op = OP(code);
        if (op === 0x00) {
          a.ja(target(k));
          break;
        }
        const eop = JMP_OPS[op];
        if (eop === undefined) throw new FilterTranslationError(`instruction ${i}: unknown jump`);
        const t = target(insn.jt);
        const f = target(insn.jf);
        if (t === f) {
          a.ja(t);
          break;
        }
        if (SRC_X(code)) a.jmpReg(Cls.JMP32, eop, A, X, t);
        else a.jmpImm(Cls.JMP32, eop, A, k, t);
        if (insn.jf !== 0) a.ja(f);
        break;
      }
      case BPF.RET: {
        const src = code & 0x18;
        if (src === 0x10) a.mov32Reg(R.r0, A);
        else if (src === 0x00) a.mov32Imm(R.r0, k);
        else throw new FilterTranslationError(`instruction ${i}: unknown return`);
        a.ja('done');
        break;
      }
      case BPF.MISC:
        if (OP(code) === 0x00 && (code & 0xf8) === 0x00)
          a.mov32Reg(X, A); // TAX
        else if ((code & 0xf8) === 0x80)
          a.mov32Reg(A, X); // TXA
        else throw new FilterTranslationError(`instruction ${i}: unknown misc operation`);
        break;
      default:
        throw new FilterTranslationError(`instruction ${i}: unknown class`);
    }
  });
  // A cBPF program that runs off its end is invalid; libpcap always ends with ret.
  // (only when something jumps there: the verifier refuses unreachable code)
  if (a.referenced('ret0')) a.label('ret0').mov32Imm(R.r0, 0);
  a.label('done');
  if (a.length > FILTER_MAX_INSNS)
    throw new FilterTranslationError(
      `the filter compiles to ${prog.length} classic BPF instructions, ${a.length} eBPF instructions; at most ${FILTER_MAX_INSNS} fit a probe: simplify the expression`,
    );
  return a.assemble();
}
