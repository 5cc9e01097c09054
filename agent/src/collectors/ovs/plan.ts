// The ovs collector's probes: the datapath's tracepoints always; where kprobes exist, the flow
// table lookup, the returns of ovs_dp_upcall and (--ovs-track) queue_userspace_packet; with
// --ovs-track, the upcall USDT probes of every ovs-vswitchd built with them.
import { KernelBtf, type FeatureReport } from '@retrace/ebpf-loader';
import { ProbeFlag } from '../../decode/layout.js';
import { RetraceOvsType, type ProgramName } from '../../gen/probe-skeleton.js';
import { btfWith } from '../../probes/catalog.js';
import { resolveProbe } from '../../probes/resolve.js';
import { parseProbe } from '@retrace/spec';
import type { PlannedProbe } from '../../session/plan.js';
import { findVswitchd, type Vswitchd } from './vswitchd.js';

const USDT: { provider: string; name: string; program: ProgramName }[] = [
  { provider: 'dpif_recv', name: 'recv_upcall', program: 'ovs_recv_upcall' },
  { provider: 'dpif_netlink_operate__', name: 'op_flow_put', program: 'ovs_flow_put' },
  { provider: 'dpif_netlink_operate__', name: 'op_flow_execute', program: 'ovs_flow_exec' },
];

/** The datapath's flow table lookup, and the function whose skb it looks up. */
export const LOOKUP = 'ovs_flow_tbl_lookup_stats';
export const LOOKUP_SKB_FROM = 'ovs_dp_process_packet';

export interface OvsPlan {
  probes: PlannedProbe[];
  /** What the user should know (no ovs-vswitchd, one without USDT probes, no kprobes). */
  notes: string[];
}

export function planOvs(
  features: FeatureReport,
  firstId: number,
  opts: { track: boolean; stack: boolean },
  vswitchds: Vswitchd[] = opts.track ? findVswitchd() : [],
): OvsPlan {
  const probes: PlannedProbe[] = [];
  const notes: string[] = [];
  const stack = opts.stack ? ProbeFlag.STACK : 0;
  // Each in a load of its own, whose records carry the ovs part (col_ovs).
  const add = (spec: string, program: ProgramName, kretType?: number): void => {
    for (const r of resolveProbe(parseProbe(spec))) {
      const kret = r.kind === 'kretprobe';
      probes.push({
        ...r,
        id: firstId + probes.length,
        mechanism: kret ? 'kretprobe' : 'raw_tp',
        probeType: kret ? 'kretprobe' : 'raw_tracepoint',
        flags: stack | (kret ? ProbeFlag.NO_CREATE : 0),
        silent: false,
        collector: 'ovs',
        program,
        globals: { col_ovs: true, ...(kretType === undefined ? {} : { ovs_kret_type: kretType }) },
      });
    }
  };
  add('tp:openvswitch:ovs_dp_upcall', 'ovs_upcall');
  add('tp:openvswitch:ovs_do_execute_action', 'ovs_action');
  if (features.kprobe.available) {
    add('kretprobe:ovs_dp_upcall', 'ovs_kret_return', RetraceOvsType.UPCALL_RETURN);
    // flow_lookup: the lookup's return, with kprobes on ovs_dp_process_packet (the skb) and on
    // the lookup's entry (its hit counters) in the same load (index.ts attaches all three).
    if (btfWith('function', LOOKUP) && btfWith('function', LOOKUP_SKB_FROM)) {
      // Its skb comes from ovs_dp_process_packet's entry, not from an argument.
      probes.push({
        spec: `kretprobe:${LOOKUP}`,
        kind: 'kretprobe',
        symbol: LOOKUP,
        target: LOOKUP,
        nargs: 5,
        stack: opts.stack,
        id: firstId + probes.length,
        mechanism: 'kretprobe',
        probeType: 'kretprobe',
        flags: stack | ProbeFlag.NO_CREATE,
        silent: false,
        collector: 'ovs',
        program: 'ovs_lookup_return',
        globals: { col_ovs: true },
      });
    } else notes.push(`ovs: ${LOOKUP} or ${LOOKUP_SKB_FROM} has no BTF here: no flow_lookup events`);
    if (opts.track) add('kretprobe:queue_userspace_packet', 'ovs_kret_return', RetraceOvsType.UPCALL_ENQUEUE);
  } else {
    notes.push(
      'ovs: no kprobes here: flow lookups (flow_lookup) and upcall results (upcall_return, upcall_enqueue) are not reported',
    );
  }
  if (!opts.track) return { probes, notes };
  const user = planOvsUsdt(vswitchds, firstId + probes.length);
  return { probes: [...probes, ...user.probes], notes: [...notes, ...user.notes] };
}

/** The upcall USDT probes of each ovs-vswitchd binary that has them; a note for the others. */
export function planOvsUsdt(vswitchds: Vswitchd[], firstId: number): OvsPlan {
  const probes: PlannedProbe[] = [];
  const notes: string[] = [];
  if (vswitchds.length === 0)
    notes.push('ovs: no ovs-vswitchd process found: --ovs-track follows the kernel side only');
  for (const v of vswitchds) {
    if (!v.usdt) {
      notes.push(
        `ovs: ovs-vswitchd (pid ${v.pid}, ${v.path}) has no USDT probes (built without --enable-usdt-probes): ` +
          'its handling of upcalls is not shown',
      );
      continue;
    }
    for (const u of USDT) {
      const symbol = `${u.provider}:${u.name}`;
      probes.push({
        spec: `usdt:${v.path}:${symbol}`,
        kind: 'usdt',
        symbol,
        target: symbol,
        nargs: 0,
        stack: false,
        usdt: { binary: v.binary, provider: u.provider, name: u.name },
        id: firstId + probes.length,
        mechanism: 'usdt',
        probeType: 'usdt',
        flags: 0,
        silent: false,
        // The main load's program: generic USDT attachment, ovs records.
        program: u.program,
        path: v.path,
      });
    }
  }
  return { probes, notes };
}

/** OVS_ACTION_ATTR_* number -> name (output, userspace, set, ct, ...), from the module's BTF. */
export function ovsActionName(): (n: number) => string {
  const names = new Map<number, string>();
  try {
    const btf = KernelBtf.moduleNames().includes('openvswitch') ? KernelBtf.module('openvswitch') : KernelBtf.vmlinux();
    for (const [k, v] of btf.enumValues('ovs_action_attr') ?? [])
      if (k.startsWith('OVS_ACTION_ATTR_')) names.set(Number(v), k.slice('OVS_ACTION_ATTR_'.length).toLowerCase());
  } catch {
    // no BTF for it: numbers
  }
  return (n) => names.get(n) ?? `action_${n}`;
}
