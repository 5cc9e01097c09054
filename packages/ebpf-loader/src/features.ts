import { existsSync, readFileSync } from 'node:fs';
import { KernelBtf } from './btf.js';
import { BpfObject } from './object.js';
import { bpfObjectPath } from './paths.js';
import type { Link } from './link.js';

export const FEATURES = [
  'btf',
  'ringbuf',
  'tp_btf',
  'raw_tp',
  'raw_tp_cookie',
  'direct_reads',
  'direct_packet',
  'kprobe',
  'kprobe_multi',
  'fentry',
  'uprobe',
] as const;
export type Feature = (typeof FEATURES)[number];

export interface FeatureResult {
  available: boolean;
  /** Why not (the error that trying produced), when unavailable. */
  reason?: string;
}

export type FeatureReport = Record<Feature, FeatureResult>;

/** Functions present on every kernel retrace supports, to try kprobes and fentry on. */
const KPROBE_CANDIDATES = ['vfs_read', 'do_sys_openat2', 'ksys_read', 'ip_rcv'];

function kprobeTarget(): string | undefined {
  const btf = KernelBtf.vmlinux();
  return KPROBE_CANDIDATES.find((f) => btf.hasFunction(f));
}

function libcPath(): string | undefined {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  return /\s(\/\S*\/libc\.so\.6)$/m.exec(maps)?.[1];
}

/**
 * Loads and attaches one program of the feature object, then detaches everything.
 * `prepare` runs before load (e.g. set an attach target), `attach` after.
 */
function tryProgram(
  program: string,
  attach: (obj: BpfObject) => Link | void,
  prepare?: (obj: BpfObject) => void,
  object = 'features',
): FeatureResult {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(bpfObjectPath(object));
    prepare?.(obj);
    obj.loadOnly([program]);
    attach(obj)?.close();
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  } finally {
    obj?.close();
  }
}

/**
 * Finds out what this kernel can do right now by trying each mechanism, not by version
 * numbers. Never throws: an unavailable feature comes with the reason. Each feature is tried
 * when first read (loading and detaching test programs costs tens of milliseconds each: a
 * session on tracepoints need not pay for the kprobe checks), then remembered.
 */
export function probeFeatures(): FeatureReport {
  const btf = (): FeatureResult =>
    existsSync('/sys/kernel/btf/vmlinux')
      ? (() => {
          try {
            KernelBtf.vmlinux();
            return { available: true };
          } catch (e) {
            return { available: false, reason: (e as Error).message };
          }
        })()
      : { available: false, reason: '/sys/kernel/btf/vmlinux is missing (kernel built without CONFIG_DEBUG_INFO_BTF)' };
  let target: string | undefined | null = null;
  const kprobeOn = (check: (target: string) => FeatureResult) => (): FeatureResult => {
    if (target === null) target = report.btf.available ? kprobeTarget() : undefined;
    return target ? check(target) : { available: false, reason: 'no known kernel function found in BTF to try it on' };
  };
  const tries: Record<Feature, () => FeatureResult> = {
    btf,
    ringbuf: () => tryProgram('feat_ringbuf_output', (o) => o.program('feat_ringbuf_output').attachTracing()),
    tp_btf: () => tryProgram('feat_tp_btf', (o) => o.program('feat_tp_btf').attachTracing()),
    raw_tp: () => tryProgram('feat_raw_tp', (o) => o.program('feat_raw_tp').attachRawTracepoint('netif_receive_skb')),
    raw_tp_cookie: () =>
      tryProgram('feat_raw_tp_cookie', (o) =>
        o.program('feat_raw_tp_cookie').attachRawTracepoint('netif_receive_skb', { cookie: 0x5eedn }),
      ),
    // Typed loads from kernel pointers (bpf_rdonly_cast): the probe object built for them. The
    // verifier decides at load; nothing to attach.
    direct_reads: () => tryProgram('feat_direct_reads', () => undefined, undefined, 'features_direct'),
    // Packet bytes read with plain loads at any offset (bpf_rdonly_cast to void, 6.17+): the
    // filters' direct mode. Its own object too: older kernels refuse the cast at verification.
    direct_packet: () => tryProgram('feat_direct_packet', () => undefined, undefined, 'features_direct_packet'),
    kprobe: kprobeOn((t) => tryProgram('feat_kprobe', (o) => o.program('feat_kprobe').attachKprobe(t))),
    kprobe_multi: kprobeOn((t) =>
      tryProgram('feat_kprobe_multi', (o) => o.program('feat_kprobe_multi').attachKprobeMulti([t])),
    ),
    fentry: kprobeOn((t) =>
      tryProgram(
        'feat_fentry',
        (o) => o.program('feat_fentry').attachTracing(),
        (o) => o.program('feat_fentry').setAttachTarget(t),
      ),
    ),
    uprobe: () => {
      const libc = libcPath();
      return libc
        ? tryProgram('feat_uprobe', (o) => o.program('feat_uprobe').attachUprobe(libc, { func: 'getpid' }))
        : { available: false, reason: 'libc not found in /proc/self/maps to try a uprobe on' };
    },
  };
  const report = {} as FeatureReport;
  for (const name of FEATURES) {
    let result: FeatureResult | undefined;
    Object.defineProperty(report, name, { enumerable: true, get: () => (result ??= tries[name]()) });
  }
  return report;
}
