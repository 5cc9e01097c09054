// ovs: Open vSwitch's kernel datapath (upcalls, actions, their results) and, with --ovs-track,
// ovs-vswitchd's handling of the upcalls (USDT), named by a queue id both sides compute
// (docs/ovs.md). BPF: bpf/collectors/ovs.bpf.h (part), ovs.progs.bpf.h and ovs/ (programs).
import { partSection } from '../../decode/section.js';
import { defineCollector } from '../define.js';
import { inKernel } from '../kernel-parts.js';
import { OvsDecoder } from './decode.js';
import { ovsActionName, planOvs } from './plan.js';

export interface OvsOptions {
  /** --ovs-track: follow upcalls into ovs-vswitchd (USDT) and back to their execution. */
  ovsTrack?: boolean;
}

/** The Open vSwitch kernel datapath is there (the openvswitch module is loaded, or built in). */
export const openvswitchPresent = (): boolean => inKernel('openvswitch', 'datapath');

export const ovs = defineCollector({
  name: 'ovs',
  // Its USDT probes sit in the host's ovs-vswitchd and the datapath is shared by every pod.
  hostWide: true,
  unavailable: () =>
    openvswitchPresent()
      ? undefined
      : 'this kernel has no Open vSwitch datapath loaded (modprobe openvswitch; ovs-vswitchd loads it when it starts)',
  idleNote: (options, why) =>
    options.ovsTrack ? `--ovs-track does nothing: the ovs collector is not running (${why})` : undefined,
  ownProbes: ({ features, options, note }, firstId) => {
    const plan = planOvs(features, firstId, { track: !!options.ovsTrack, stack: !!options.stack });
    for (const n of plan.notes) note(n);
    return plan.probes;
  },
  // With a filter, ovs-vswitchd's events are reported only for upcalls of followed packets.
  globals: ({ selective }) => ({ ovs_filtered: selective }),
  /** The datapath's programs, a load each (their records carry the ovs part). */
  attach: (p, { perTarget, link }) => {
    if (p.mechanism === 'kretprobe') {
      const o = perTarget(p, ['ovs_kret_entry', 'ovs_kret_return'], p.globals);
      link(o.program('ovs_kret_entry').attachKprobe(p.target));
      link(o.program('ovs_kret_return').attachKprobe(p.target, { retprobe: true }));
      return;
    }
    if (p.program) link(perTarget(p, [p.program], p.globals).program(p.program).attachRawTracepoint(p.target));
  },
  sections: (layouts) => {
    const decoder = new OvsDecoder(layouts.struct('retrace_ovs'), ovsActionName());
    return [partSection('ovs', layouts, 'ovs', (view, buf, at) => decoder.decode(view, buf, at))];
  },
});
