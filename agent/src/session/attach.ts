// Attaching a session's probes: generic probes with the generic program of their mechanism
// (several sharing one program where the kernel allows), collectors' own probes by their
// collector.
import { KernelBtf, type Link } from '@retrace/ebpf-loader';
import type { AttachContext } from '../collectors/collector.js';
import { collector, isCollectorName } from '../collectors/index.js';
import type { Kallsyms } from '../decode/kallsyms.js';
import type { ProgramName } from '../gen/probe-skeleton.js';
import type { PlannedProbe } from './plan.js';
import type { ProbeObject } from './probe-object.js';

/**
 * Plain kprobes (no kprobe-multi here) share one program that finds its probe by the function's
 * address (bpf_get_func_ip, 5.15+) when there are several: loading the program once per
 * function is what makes hundreds of kprobes slow.
 */
export function sharedKprobes(
  probes: readonly PlannedProbe[],
  kallsyms: () => Kallsyms,
): Map<PlannedProbe, bigint[]> | undefined {
  // Collectors' kprobes have programs of their own.
  const plain = probes.filter((p) => p.mechanism === 'kprobe' && !p.program && !p.collector);
  if (plain.length < 2 || !KernelBtf.vmlinux().enumValues('bpf_func_id')?.has('BPF_FUNC_get_func_ip')) return undefined;
  const out = new Map<PlannedProbe, bigint[]>();
  for (const p of plain) {
    // A kprobe by name hits one of the functions of that name: any of them finds the probe.
    const addrs = kallsyms().addressesOf(p.target);
    if (addrs.length) out.set(p, addrs);
  }
  return out.size ? out : undefined;
}

/** Programs of the main load the probes run. */
export function mainPrograms(
  probes: readonly PlannedProbe[],
  kprobeIds: Map<PlannedProbe, bigint[]> | undefined,
): Set<ProgramName> {
  const out = new Set<ProgramName>();
  for (const p of probes) {
    if (p.mechanism === 'raw_tp_cookie') out.add(`probe_raw_tp_${p.nargs}` as ProgramName);
    if (p.mechanism === 'kprobe_multi') out.add('probe_kprobe_multi');
    if (p.mechanism === 'kretprobe_multi')
      ['probe_kretprobe_multi_entry', 'probe_kretprobe_multi'].forEach((x) => out.add(x as ProgramName));
    if (p.mechanism === 'usdt') out.add(p.program ?? 'probe_usdt');
    if (kprobeIds?.has(p)) out.add('probe_kprobe_ip');
  }
  return out;
}

export type PerTarget = AttachContext['perTarget'];

/** Attaches one probe that has its own program or link (multi probes attach together). */
export function attachOne(
  p: PlannedProbe,
  main: ProbeObject,
  perTarget: PerTarget,
  kprobeIds: Map<PlannedProbe, bigint[]> | undefined,
  link: (l: Link) => void,
): void {
  if (p.collector) {
    const ctx: AttachContext = { main, perTarget, link };
    if (!isCollectorName(p.collector))
      throw new Error(`probe ${p.spec} belongs to no known collector (${p.collector})`);
    collector(p.collector).attach?.(p, ctx);
    return;
  }
  const rawTp = `probe_raw_tp_${p.nargs}` as ProgramName;
  switch (p.mechanism) {
    case 'raw_tp_cookie':
      link(main.program(rawTp).attachRawTracepoint(p.target, { cookie: BigInt(p.id) }));
      break;
    case 'raw_tp':
      link(perTarget(p, [rawTp]).program(rawTp).attachRawTracepoint(p.target));
      break;
    case 'kprobe':
      if (kprobeIds?.has(p)) link(main.program('probe_kprobe_ip').attachKprobe(p.target));
      else link(perTarget(p, ['probe_kprobe']).program('probe_kprobe').attachKprobe(p.target));
      break;
    case 'kretprobe': {
      const o = perTarget(p, ['probe_kretprobe_entry', 'probe_kretprobe']);
      link(o.program('probe_kretprobe_entry').attachKprobe(p.target));
      link(o.program('probe_kretprobe').attachKprobe(p.target, { retprobe: true }));
      break;
    }
    case 'fentry':
    case 'fexit': {
      const prog = p.mechanism === 'fentry' ? 'probe_fentry' : 'probe_fexit';
      const o = perTarget(p, [prog], undefined, (obj) => obj.program(prog).setAttachTarget(p.target));
      link(o.program(prog).attachTracing());
      break;
    }
    case 'usdt':
      if (p.usdt)
        link(
          main
            .program(p.program ?? 'probe_usdt')
            .attachUsdt(p.usdt.binary, p.usdt.provider, p.usdt.name, { cookie: BigInt(p.id) }),
        );
      break;
    default:
      break;
  }
}

/** The kprobe-multi and kretprobe-multi probes, one link per program for all of them. */
export function attachMulti(probes: readonly PlannedProbe[], main: ProbeObject, link: (l: Link) => void): void {
  const multi = (mech: string): PlannedProbe[] => probes.filter((p) => p.mechanism === mech);
  const kmulti = multi('kprobe_multi');
  if (kmulti.length)
    link(
      main.program('probe_kprobe_multi').attachKprobeMulti(
        kmulti.map((p) => p.target),
        { cookies: kmulti.map((p) => BigInt(p.id)) },
      ),
    );
  const krmulti = multi('kretprobe_multi');
  if (krmulti.length) {
    const syms = krmulti.map((p) => p.target);
    const cookies = krmulti.map((p) => BigInt(p.id));
    link(main.program('probe_kretprobe_multi_entry').attachKprobeMulti(syms, { cookies }));
    link(main.program('probe_kretprobe_multi').attachKprobeMulti(syms, { retprobe: true, cookies }));
  }
}
