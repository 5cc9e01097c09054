import { PcapFilterError } from './errors.js';
import { native } from './native.js';

/** One classic BPF instruction (struct bpf_insn of libpcap). */
export interface CbpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export interface CompileOptions {
  /** libpcap link-type name (EN10MB for Ethernet, RAW for bare IP) or DLT number. */
  linkType?: string | number;
  snaplen?: number;
  optimize?: boolean;
}

const PCAP_NETMASK_UNKNOWN = 0xffffffff;

export function linkTypeValue(linkType: string | number): number {
  if (typeof linkType === 'number') return linkType;
  const v = native.pcapDatalinkNameToVal(linkType);
  if (v < 0) throw new PcapFilterError('', `unknown link type '${linkType}' (try EN10MB or RAW)`);
  return v;
}

/** Compiles a tcpdump expression with libpcap, exactly as tcpdump does. */
export function compilePacketFilter(expression: string, opts: CompileOptions = {}): CbpfInstruction[] {
  let raw: Buffer;
  try {
    raw = native.pcapCompile(
      linkTypeValue(opts.linkType ?? 'EN10MB'),
      opts.snaplen ?? 262144,
      expression,
      opts.optimize ?? true,
      PCAP_NETMASK_UNKNOWN,
    );
  } catch (e) {
    if (e instanceof PcapFilterError || (e as Error).name === 'TypeError') throw e;
    throw new PcapFilterError(expression, (e as Error).message);
  }
  const out: CbpfInstruction[] = [];
  for (let off = 0; off + 8 <= raw.length; off += 8)
    out.push({
      code: raw.readUInt16LE(off),
      jt: raw[off + 2] ?? 0,
      jf: raw[off + 3] ?? 0,
      k: raw.readUInt32LE(off + 4),
    });
  return out;
}

export function libpcapVersion(): string {
  return native.pcapLibVersion();
}
