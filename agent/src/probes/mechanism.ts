// The best attach mechanism this kernel offers for each probe kind, chosen from the features
// found by trying (probeFeatures), never from version numbers.
import type { FeatureReport } from '@retrace/ebpf-loader';
import { ProbeMechanismError } from '../errors.js';
import type { ProbeKind } from '@retrace/spec';

export type Mechanism =
  | 'raw_tp_cookie' // one loaded program for every tracepoint with that argument count
  | 'raw_tp' // one load per tracepoint (kernels without raw tracepoint cookies, < 6.10)
  | 'kprobe_multi'
  | 'kprobe'
  | 'kretprobe_multi'
  | 'kretprobe'
  | 'fentry'
  | 'fexit'
  | 'usdt';

const TP_SUGGESTION =
  "use a tracepoint instead (e.g. -p tp:net:netif_receive_skb; `retrace inspect -p 'tp:*'` lists them)";

export function chooseMechanism(kind: ProbeKind, spec: string, f: FeatureReport): Mechanism {
  switch (kind) {
    case 'tracepoint':
      if (f.raw_tp_cookie.available) return 'raw_tp_cookie';
      if (f.raw_tp.available) return 'raw_tp';
      throw new ProbeMechanismError(spec, 'raw tracepoints', 'no tracepoint can be traced here');
    case 'kprobe':
      if (f.kprobe_multi.available) return 'kprobe_multi';
      if (f.kprobe.available) return 'kprobe';
      if (f.fentry.available) return 'fentry';
      throw new ProbeMechanismError(spec, 'kprobes (CONFIG_KPROBES), kprobe-multi and fentry', TP_SUGGESTION);
    case 'kretprobe':
      if (f.kprobe_multi.available) return 'kretprobe_multi';
      if (f.kprobe.available) return 'kretprobe';
      if (f.fentry.available) return 'fexit';
      throw new ProbeMechanismError(spec, 'kretprobes (CONFIG_KPROBES), kprobe-multi and fexit', TP_SUGGESTION);
    case 'fentry':
    case 'fexit':
      if (f.fentry.available) return kind;
      throw new ProbeMechanismError(spec, `${kind} (BPF trampolines)`, `use kprobe:/kretprobe: or a tracepoint`);
    case 'usdt':
      if (f.uprobe.available) return 'usdt';
      throw new ProbeMechanismError(spec, 'uprobes (CONFIG_UPROBE_EVENTS)', 'USDT probes cannot be traced here');
  }
}

/** How the kernel section names the probe type in events (retis's `kernel.probe_type`). */
export function probeTypeName(m: Mechanism): string {
  switch (m) {
    case 'raw_tp_cookie':
    case 'raw_tp':
      return 'raw_tracepoint';
    case 'kprobe_multi':
    case 'kprobe':
      return 'kprobe';
    case 'kretprobe_multi':
    case 'kretprobe':
      return 'kretprobe';
    default:
      return m;
  }
}
