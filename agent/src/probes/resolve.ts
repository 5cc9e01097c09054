// From what the user typed to concrete kernel probes: wildcards expanded, arguments located
// through BTF (the struct sk_buff * every collector reads, the drop reason when there is one).
import { BtfKind, KernelBtf, type Prototype } from '@retrace/ebpf-loader';
import { ProbeNotFoundError, ProbeUnusableError } from '../errors.js';
import { btfWith, functions, tracefsDir, tracepoints } from './catalog.js';
import { wildcard, type ProbeKind, type ProbeSpec } from '@retrace/spec';

export interface ResolvedProbe {
  /** The user's (or collector's) text this came from. */
  spec: string;
  kind: ProbeKind;
  /** `category:name` for tracepoints, the function name otherwise, `provider:name` for USDT. */
  symbol: string;
  /** Kernel name: the tracepoint or function without category. */
  target: string;
  nargs: number;
  /** Argument index of the struct sk_buff * (undefined for USDT). */
  skbArg?: number;
  /** Argument index of the drop reason (enum skb_drop_reason), if any. */
  reasonArg?: number;
  stack: boolean;
  prototype?: string;
  usdt?: { binary: string; provider: string; name: string };
}

/** Highest argument a kprobe can read (PT_REGS_PARM1..5). */
const KPROBE_MAX_ARGS = 5;

function reasonParam(btf: KernelBtf, proto: Prototype): number | undefined {
  return proto.params.find((p) => {
    const t = btf.resolve(p.typeId);
    return (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) && t.name === 'skb_drop_reason';
  })?.index;
}

function candidates(spec: ProbeSpec): string[] {
  if (spec.kind === 'tracepoint') {
    const all = tracepoints();
    const re = wildcard(spec.target);
    const nameOnly = spec.target.includes(':') ? wildcard(spec.target.slice(spec.target.indexOf(':') + 1)) : re;
    // Without tracefs the categories are unknown ('*:name'): match on the name alone, and take
    // the category the user wrote when it has no wildcard.
    const category = spec.target.includes(':') ? spec.target.slice(0, spec.target.indexOf(':')) : '*';
    return all
      .filter((tp) => (tp.startsWith('*:') ? nameOnly.test(tp.slice(2)) : re.test(tp)))
      .map((tp) => (tp.startsWith('*:') && !category.includes('*') ? `${category}${tp.slice(1)}` : tp));
  }
  if (spec.target.includes('*')) {
    const re = wildcard(spec.target);
    return functions().filter((f) => re.test(f));
  }
  return btfWith('function', spec.target) ? [spec.target] : [];
}

function notFoundHint(spec: ProbeSpec): string {
  if (spec.kind === 'tracepoint' && !tracefsDir())
    return 'tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing, or use --allow-system-changes)';
  if (spec.kind === 'tracepoint') return "`retrace inspect -p 'tp:*'` lists the tracepoints usable here";
  return "`retrace inspect -p 'kprobe:*'` lists the functions with BTF";
}

/**
 * Resolves one spec. Wildcards keep only targets with a struct sk_buff * argument; an explicit
 * target without one is an error naming its arguments.
 */
export function resolveProbe(spec: ProbeSpec): ResolvedProbe[] {
  if (spec.kind === 'usdt' && spec.usdt)
    return [
      {
        spec: spec.text,
        kind: 'usdt',
        symbol: spec.target,
        target: spec.target,
        nargs: 0,
        stack: false,
        usdt: spec.usdt,
      },
    ];
  const names = candidates(spec);
  const isWildcard = spec.target.includes('*');
  if (names.length === 0) throw new ProbeNotFoundError(spec.text, notFoundHint(spec));
  const out: ResolvedProbe[] = [];
  for (const full of names) {
    const target = spec.kind === 'tracepoint' ? full.slice(full.indexOf(':') + 1) : full;
    const btf = btfWith(spec.kind === 'tracepoint' ? 'tracepoint' : 'function', target) ?? KernelBtf.vmlinux();
    const proto = spec.kind === 'tracepoint' ? btf.tracepointPrototype(target) : btf.functionPrototype(target);
    if (!proto) {
      if (isWildcard) continue;
      throw new ProbeNotFoundError(spec.text, 'it has no BTF prototype on this kernel');
    }
    const skb = btf.skbParameter(proto);
    const tooFar = skb && (spec.kind === 'kprobe' || spec.kind === 'kretprobe') && skb.index >= KPROBE_MAX_ARGS;
    if (!skb || tooFar) {
      if (isWildcard) continue;
      throw new ProbeUnusableError(
        spec.text,
        skb
          ? `its struct sk_buff * is argument ${skb.index + 1}; kprobes read the first ${KPROBE_MAX_ARGS} (use fentry:${target})`
          : `no collector can read from it: it has no struct sk_buff * argument (${proto.text})`,
      );
    }
    const reason = reasonParam(btf, proto);
    out.push({
      spec: spec.text,
      kind: spec.kind,
      symbol: spec.kind === 'tracepoint' ? full : target,
      target,
      nargs: proto.params.length,
      skbArg: skb.index,
      ...(reason !== undefined ? { reasonArg: reason } : {}),
      stack: spec.stack,
      prototype: proto.text,
    });
  }
  if (out.length === 0)
    throw new ProbeNotFoundError(spec.text, 'none of its matches has a struct sk_buff * argument a collector can read');
  return out;
}
