// Meta filter -> eBPF, spliced in place of the meta placeholder (r1 = the struct sk_buff *).
// Fields are resolved in the running kernel's BTF: offsets, bitfields, signedness, char arrays,
// pointer hops (a NULL pointer makes the comparison false), and `:mask:struct` casts.
import { BtfKind, KernelBtf, type NativeBtfType } from '@retrace/ebpf-loader';
import { Alu, Assembler, Cls, HELPER_PROBE_READ_KERNEL, Jmp, R, Size } from './ebpf-asm.js';
import { parseMetaFilter, type MetaCompare, type MetaExpr } from '@retrace/spec';

export const FILTER_MAGIC_META = 0x0dea0004; // bpf/include/filter.bpf.h

export class MetaFilterFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetaFilterFieldError';
  }
}

const SKB = R.r9; // the sk_buff pointer, for every comparison
const BASE = R.r6; // address of the struct being walked
const VAL = R.r7;
const K = R.r8;
const WORD = -8; // 8-byte read slot
const STR = -48; // up to 40 bytes of string

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return (d[a.length] as number[])[b.length] as number;
}

class MetaCompiler {
  private readonly a = new Assembler();
  private n = 0;

  constructor(
    private readonly btf: KernelBtf,
    private readonly src: string,
  ) {}

  private fresh(): string {
    return `m${this.n++}`;
  }

  /** bpf_probe_read_kernel(fp+slot, size, BASE + off); false on a failed read. */
  private read(slot: number, size: number, byteOff: number, falseL: string): void {
    const a = this.a;
    a.mov64Reg(R.r3, BASE).alu64Imm(Alu.ADD, R.r3, byteOff);
    a.mov64Reg(R.r1, R.fp).alu64Imm(Alu.ADD, R.r1, slot);
    a.mov64Imm(R.r2, size);
    a.call(HELPER_PROBE_READ_KERNEL);
    a.jmpImm(Cls.JMP, Jmp.JNE, R.r0, 0, falseL);
  }

  private structName(id: number): string {
    const t = this.btf.resolve(id);
    return t.name || `type ${id}`;
  }

  private unknown(structId: number, name: string, where: string): never {
    const names = this.btf.memberNames(structId);
    const close = names
      .map((n) => [n, distance(n, name)] as const)
      .filter(([n, d]) => d <= 3 || n.includes(name) || name.includes(n))
      .sort((x, y) => x[1] - y[1])
      .slice(0, 5)
      .map(([n]) => n);
    throw new MetaFilterFieldError(
      `meta filter '${this.src}': ${where} has no field '${name}'${close.length ? `; did you mean ${close.join(', ')}?` : ''}`,
    );
  }

  /** Walks `path` from struct `structId` at BASE; returns the final member and its bit offset from BASE. */
  private walk(
    structId: number,
    path: string[],
    where: string,
    falseL: string,
  ): { type: NativeBtfType; typeId: number; bitOff: number; bitSize: number } {
    let cur = structId;
    let bitBase = 0;
    for (let i = 0; i < path.length; i++) {
      const name = path[i] as string;
      const m = this.btf.member(cur, name);
      if (!m) this.unknown(cur, name, `struct ${this.structName(cur)}`);
      const member = m as NonNullable<typeof m>;
      const bitOff = bitBase + member.bitOffset;
      const t = this.btf.resolve(member.typeId);
      const here = `${where}.${path.slice(0, i + 1).join('.')}`;
      if (i === path.length - 1) return { type: t, typeId: member.typeId, bitOff, bitSize: member.bitSize };
      if (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) {
        bitBase = bitOff;
        cur = t.id;
      } else if (t.kind === BtfKind.PTR && t.type !== undefined) {
        const target = this.btf.resolve(t.type);
        if (target.kind !== BtfKind.STRUCT && target.kind !== BtfKind.UNION)
          throw new MetaFilterFieldError(`meta filter '${this.src}': ${here} does not point to a struct`);
        this.read(WORD, 8, bitOff / 8, falseL);
        this.a.load(Size.DW, BASE, R.fp, WORD);
        this.a.jmpImm(Cls.JMP, Jmp.JEQ, BASE, 0, falseL);
        bitBase = 0;
        cur = target.id;
      } else {
        throw new MetaFilterFieldError(
          `meta filter '${this.src}': ${here} is not a struct or a pointer, nothing to follow`,
        );
      }
    }
    throw new MetaFilterFieldError(`meta filter '${this.src}': empty field path`);
  }

  private compareString(
    c: MetaCompare,
    value: string,
    t: NativeBtfType,
    bitOff: number,
    trueL: string,
    falseL: string,
  ): void {
    const a = this.a;
    const eq = c.op === '==';
    const [yes, no] = eq ? [trueL, falseL] : [falseL, trueL];
    let cap: number;
    let byteOff = bitOff / 8;
    if (t.kind === BtfKind.ARRAY && t.type !== undefined && this.btf.resolve(t.type).size === 1) cap = t.nelems ?? 0;
    else if (t.kind === BtfKind.PTR && t.type !== undefined && this.btf.resolve(t.type).size === 1) {
      this.read(WORD, 8, byteOff, no);
      a.load(Size.DW, BASE, R.fp, WORD);
      a.jmpImm(Cls.JMP, Jmp.JEQ, BASE, 0, no);
      byteOff = 0;
      cap = 40;
    } else
      throw new MetaFilterFieldError(
        `meta filter '${this.src}': ${c.path.join('.')} is not a string; compare it with a number`,
      );
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > cap) {
      a.ja(no);
      return;
    }
    const n = Math.min(bytes.length + 1, cap, 40);
    this.read(STR, n, byteOff, no);
    for (let j = 0; j < n; j++) {
      a.load(Size.B, VAL, R.fp, STR + j);
      a.jmpImm(Cls.JMP, Jmp.JNE, VAL, bytes[j] ?? 0, no);
    }
    a.ja(yes);
  }

  private compareNumber(
    c: MetaCompare,
    value: bigint,
    t: NativeBtfType,
    bitOff: number,
    bitSize: number,
    trueL: string,
    falseL: string,
  ): void {
    const a = this.a;
    let size = t.kind === BtfKind.PTR ? 8 : (t.size ?? 0);
    if (
      ![1, 2, 4, 8].includes(size) ||
      (t.kind !== BtfKind.INT && t.kind !== BtfKind.ENUM && t.kind !== BtfKind.ENUM64 && t.kind !== BtfKind.PTR)
    )
      throw new MetaFilterFieldError(
        `meta filter '${this.src}': ${c.path.join('.')} is not a number (${this.btf.decl(t.id)})`,
      );
    let signed = t.kind === BtfKind.INT && !!t.signed && !c.mask;
    let shift = 0;
    if (bitSize) {
      shift = bitOff % 8;
      size = 8;
      signed = false;
    }
    this.read(WORD, size, Math.floor(bitOff / 8), falseL);
    a.load(size === 8 ? Size.DW : size === 4 ? Size.W : size === 2 ? Size.H : Size.B, VAL, R.fp, WORD);
    if (bitSize) {
      if (shift) a.alu64Imm(Alu.RSH, VAL, shift);
      a.ldImm64(K, (1n << BigInt(bitSize)) - 1n).alu64Reg(Alu.AND, VAL, K);
    }
    if (signed && size < 8) a.alu64Imm(Alu.LSH, VAL, 64 - size * 8).alu64Imm(0xc0 /* ARSH */, VAL, 64 - size * 8);
    if (c.mask !== undefined) a.ldImm64(K, c.mask).alu64Reg(Alu.AND, VAL, K);
    if (c.cast) {
      const struct = this.btf.find(c.cast.struct, BtfKind.STRUCT);
      if (struct === undefined)
        throw new MetaFilterFieldError(`meta filter '${this.src}': no struct ${c.cast.struct} in this kernel`);
      a.mov64Reg(BASE, VAL);
      a.jmpImm(Cls.JMP, Jmp.JEQ, BASE, 0, falseL);
      const f = this.walk(struct, c.cast.path, c.cast.struct, falseL);
      const inner: MetaCompare = { ...c, path: c.cast.path };
      delete inner.cast;
      delete inner.mask;
      this.compareNumber(inner, value, f.type, f.bitOff, f.bitSize, trueL, falseL);
      return;
    }
    a.ldImm64(K, value);
    const ops: Record<string, [number, number]> = {
      '==': [Jmp.JEQ, Jmp.JEQ],
      '!=': [Jmp.JNE, Jmp.JNE],
      '<': [Jmp.JLT, 0xc0 /* JSLT */],
      '<=': [Jmp.JLE, 0xd0 /* JSLE */],
      '>': [Jmp.JGT, 0x60 /* JSGT */],
      '>=': [Jmp.JGE, 0x70 /* JSGE */],
    };
    const [u, s] = ops[c.op] as [number, number];
    a.jmpReg(Cls.JMP, signed ? s : u, VAL, K, trueL);
    a.ja(falseL);
  }

  private compare(c: MetaCompare, trueL: string, falseL: string): void {
    this.a.mov64Reg(BASE, SKB);
    const skb = this.btf.find('sk_buff', BtfKind.STRUCT);
    if (skb === undefined) throw new MetaFilterFieldError('no struct sk_buff in the kernel BTF');
    const f = this.walk(skb, c.path, 'sk_buff', falseL);
    if (typeof c.value === 'string') this.compareString(c, c.value, f.type, f.bitOff, trueL, falseL);
    else this.compareNumber(c, c.value, f.type, f.bitOff, f.bitSize, trueL, falseL);
  }

  private expr(e: MetaExpr, trueL: string, falseL: string): void {
    if (e.kind === 'cmp') return this.compare(e, trueL, falseL);
    const mid = this.fresh();
    if (e.kind === 'and') this.expr(e.left, mid, falseL);
    else this.expr(e.left, trueL, mid);
    this.a.label(mid);
    this.expr(e.right, trueL, falseL);
  }

  compile(e: MetaExpr): Buffer {
    this.a.mov64Reg(SKB, R.r1);
    this.expr(e, 'true', 'false');
    // (each block only when something jumps to it: the verifier refuses unreachable code)
    if (this.a.referenced('true')) this.a.label('true').mov64Imm(R.r0, 1).ja('done');
    if (this.a.referenced('false')) this.a.label('false').mov64Imm(R.r0, 0);
    this.a.label('done');
    return this.a.assemble();
  }
}

export interface CompiledMetaFilter {
  expression: string;
  insns: Buffer;
}

/** Parses and compiles a meta filter against this kernel's BTF. */
export function compileMetaFilter(expression: string, btf: KernelBtf = KernelBtf.vmlinux()): CompiledMetaFilter {
  const ast = parseMetaFilter(expression);
  return { expression, insns: new MetaCompiler(btf, expression).compile(ast) };
}
