import { AttachError, ObjectError, nativeCall, type NativeErrorShape } from './errors.js';
import { Link } from './link.js';
import { native, type NativeBpfObject, type NativeLink } from './native.js';

export interface AttachCookie {
  /** Value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
}

/** One program of an object. Configure before load; attach after. */
export class Program {
  readonly name: string;
  private readonly obj: NativeBpfObject;
  private readonly objectName: string;

  constructor(obj: NativeBpfObject, objectName: string, name: string) {
    this.obj = obj;
    this.objectName = objectName;
    this.name = name;
  }

  private wrap(what: string): (e: NativeErrorShape) => ObjectError {
    return (e) => new ObjectError(`${this.objectName}/${this.name}: ${what}: ${e.message}`, e);
  }

  /** Whether load() loads this program (default: true). */
  setAutoload(on: boolean): void {
    nativeCall(() => this.obj.setAutoload(this.name, on), this.wrap('setting autoload'));
  }

  /** Kernel function or tracepoint for tp_btf, fentry and fexit programs (before load). */
  setAttachTarget(target: string): void {
    nativeCall(() => this.obj.setAttachTarget(this.name, target), this.wrap(`setting attach target ${target}`));
  }

  /** Instructions as they are now (struct bpf_insn, 8 bytes each). */
  instructions(): Buffer {
    return nativeCall(() => this.obj.instructions(this.name), this.wrap('reading instructions'));
  }

  /**
   * Replaces the instructions before load (e.g. to splice a compiled filter in). Instructions
   * that libbpf relocates (map references, calls, CO-RE accesses) must stay where they were.
   */
  setInstructions(insns: Buffer): void {
    nativeCall(() => this.obj.setInstructions(this.name, insns), this.wrap('replacing instructions'));
  }

  get fd(): number {
    const fd = this.obj.programFd(this.name);
    if (fd < 0) throw new ObjectError(`${this.objectName}/${this.name} is not loaded`);
    return fd;
  }

  /** Kernel-side facts: id, run count and time (with kernel.bpf_stats_enabled), sizes. */
  info(): ReturnType<typeof native.progInfo> {
    return native.progInfo(this.fd);
  }

  /** BPF_PROG_TEST_RUN on a packet (networking programs) or a context (repeat 0 = once; tracing programs need 0). */
  testRun(
    data: Buffer | null,
    opts: { repeat?: number; outSize?: number; ctx?: Buffer } = {},
  ): { retval: number; durationNs: number; data: Buffer } {
    return nativeCall(
      () => native.testRun(this.fd, data, opts.repeat ?? 0, opts.outSize ?? 0, opts.ctx),
      this.wrap('test run'),
    );
  }

  private attachWith(target: string, fn: () => NativeLink, advice: string | ((code: string) => string) = ''): Link {
    return new Link(
      nativeCall(
        fn,
        (e) =>
          new AttachError(`${this.name} to ${target}`, e, typeof advice === 'string' ? advice : advice(e.code ?? '')),
      ),
      target,
    );
  }

  /** Attach as the program's section says (e.g. SEC("tp_btf/netif_receive_skb")). */
  attach(): Link {
    return this.attachWith('its section target', () => this.obj.attachAuto(this.name));
  }

  /** tp_btf, fentry, fexit: the target was fixed before load (section or setAttachTarget). */
  attachTracing(): Link {
    return this.attachWith('BTF tracing target', () => this.obj.attachTrace(this.name));
  }

  attachRawTracepoint(tracepoint: string, opts: AttachCookie = {}): Link {
    return this.attachWith(`raw_tracepoint:${tracepoint}`, () =>
      this.obj.attachRawTracepoint(this.name, tracepoint, opts.cookie ?? 0n),
    );
  }

  attachKprobe(fn: string, opts: AttachCookie & { retprobe?: boolean; offset?: bigint } = {}): Link {
    const kind = opts.retprobe ? 'kretprobe' : 'kprobe';
    return this.attachWith(
      `${kind}:${fn}`,
      () => this.obj.attachKprobe(this.name, fn, !!opts.retprobe, opts.offset ?? 0n, opts.cookie ?? 0n),
      (code) =>
        code === 'EADDRNOTAVAIL' || code === 'EINVAL'
          ? 'the kernel will not probe this function (kprobe blacklist, notrace, or not a function entry)'
          : 'kprobes need CONFIG_KPROBES; where they are missing, use a tracepoint (e.g. tp:net:netif_receive_skb)',
    );
  }

  /** Many functions in one link: a glob pattern, or symbols with one cookie each. */
  attachKprobeMulti(target: string | string[], opts: { retprobe?: boolean; cookies?: bigint[] } = {}): Link {
    const label = typeof target === 'string' ? target : `${target.length} functions`;
    return this.attachWith(
      `kprobe-multi:${label}`,
      () => this.obj.attachKprobeMulti(this.name, target, !!opts.retprobe, opts.cookies),
      'kprobe-multi needs CONFIG_FPROBE (5.18+); fall back to one kprobe per function',
    );
  }

  attachUprobe(
    binary: string,
    opts: AttachCookie & { func?: string; offset?: bigint; pid?: number; retprobe?: boolean } = {},
  ): Link {
    const where = `${binary}:${opts.func ?? `0x${(opts.offset ?? 0n).toString(16)}`}`;
    return this.attachWith(`${opts.retprobe ? 'uretprobe' : 'uprobe'}:${where}`, () =>
      this.obj.attachUprobe(
        this.name,
        opts.pid ?? -1,
        binary,
        opts.func ?? null,
        opts.offset ?? 0n,
        !!opts.retprobe,
        opts.cookie ?? 0n,
      ),
    );
  }

  attachUsdt(binary: string, provider: string, name: string, opts: AttachCookie & { pid?: number } = {}): Link {
    return this.attachWith(`usdt:${binary}:${provider}:${name}`, () =>
      this.obj.attachUsdt(this.name, opts.pid ?? -1, binary, provider, name, opts.cookie ?? 0n),
    );
  }
}
