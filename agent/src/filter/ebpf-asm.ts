// A small eBPF assembler: instruction encoding with symbolic jump labels, resolved at the end.

export const R = { r0: 0, r1: 1, r2: 2, r3: 3, r4: 4, r5: 5, r6: 6, r7: 7, r8: 8, r9: 9, fp: 10 } as const;

export const Cls = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export const Mode = { IMM: 0x00, MEM: 0x60 } as const;
export const Src = { K: 0x00, X: 0x08 } as const;
export const Alu = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  END: 0xd0,
} as const;
export const Jmp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
} as const;

export const HELPER_PROBE_READ_KERNEL = 113;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Jump target label, resolved into `off`. */
  label?: string;
}

export class AsmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AsmError';
  }
}

export class Assembler {
  private readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private fresh = 0;

  get length(): number {
    return this.insns.length;
  }

  emit(code: number, dst: number, src: number, off: number, imm: number, label?: string): this {
    this.insns.push({ code, dst, src, off, imm: imm | 0, ...(label !== undefined ? { label } : {}) });
    return this;
  }

  /** Whether any jump targets this label. */
  referenced(name: string): boolean {
    return this.insns.some((i) => i.label === name);
  }

  /** A label name no other code uses. */
  newLabel(): string {
    return `.L${this.fresh++}`;
  }

  label(name: string): this {
    this.labels.set(name, this.insns.length);
    return this;
  }

  mov32Imm(dst: number, imm: number): this {
    return this.emit(Cls.ALU | Alu.MOV | Src.K, dst, 0, 0, imm);
  }
  mov32Reg(dst: number, src: number): this {
    return this.emit(Cls.ALU | Alu.MOV | Src.X, dst, src, 0, 0);
  }
  mov64Reg(dst: number, src: number): this {
    return this.emit(Cls.ALU64 | Alu.MOV | Src.X, dst, src, 0, 0);
  }
  mov64Imm(dst: number, imm: number): this {
    return this.emit(Cls.ALU64 | Alu.MOV | Src.K, dst, 0, 0, imm);
  }
  alu32Imm(op: number, dst: number, imm: number): this {
    return this.emit(Cls.ALU | op | Src.K, dst, 0, 0, imm);
  }
  alu32Reg(op: number, dst: number, src: number): this {
    return this.emit(Cls.ALU | op | Src.X, dst, src, 0, 0);
  }
  alu64Imm(op: number, dst: number, imm: number): this {
    return this.emit(Cls.ALU64 | op | Src.K, dst, 0, 0, imm);
  }
  alu64Reg(op: number, dst: number, src: number): this {
    return this.emit(Cls.ALU64 | op | Src.X, dst, src, 0, 0);
  }
  /** Byte swap to big endian (network order) of the low `bits` bits. */
  toBe(dst: number, bits: 16 | 32): this {
    return this.emit(Cls.ALU | Alu.END | 0x08, dst, 0, 0, bits);
  }
  load(size: number, dst: number, src: number, off: number): this {
    return this.emit(Cls.LDX | Mode.MEM | size, dst, src, off, 0);
  }
  store(size: number, dst: number, off: number, src: number): this {
    return this.emit(Cls.STX | Mode.MEM | size, dst, src, off, 0);
  }
  storeImm(size: number, dst: number, off: number, imm: number): this {
    return this.emit(Cls.ST | Mode.MEM | size, dst, 0, off, imm);
  }
  ja(label: string): this {
    return this.emit(Cls.JMP | Jmp.JA, 0, 0, 0, 0, label);
  }
  jmpImm(cls: number, op: number, dst: number, imm: number, label: string): this {
    return this.emit(cls | op | Src.K, dst, 0, 0, imm, label);
  }
  jmpReg(cls: number, op: number, dst: number, src: number, label: string): this {
    return this.emit(cls | op | Src.X, dst, src, 0, 0, label);
  }
  /** 64-bit immediate load (two instruction slots). */
  ldImm64(dst: number, value: bigint): this {
    const v = BigInt.asUintN(64, value);
    this.emit(Cls.LD | Size.DW | Mode.IMM, dst, 0, 0, Number(v & 0xffffffffn) | 0);
    return this.emit(0, 0, 0, 0, Number(v >> 32n) | 0);
  }
  call(helper: number): this {
    return this.emit(Cls.JMP | Jmp.CALL, 0, 0, 0, helper);
  }

  /** Encodes with every label resolved (struct bpf_insn, 8 bytes each, little-endian). */
  assemble(): Buffer {
    const out = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((insn, i) => {
      let off = insn.off;
      if (insn.label !== undefined) {
        const target = this.labels.get(insn.label);
        if (target === undefined) throw new AsmError(`undefined label ${insn.label}`);
        off = target - i - 1;
        if (off < -32768 || off > 32767) throw new AsmError(`jump of ${off} instructions does not fit`);
      }
      out.writeUInt8(insn.code, i * 8);
      out.writeUInt8((insn.dst & 0xf) | ((insn.src & 0xf) << 4), i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(insn.imm, i * 8 + 4);
    });
    return out;
  }
}
