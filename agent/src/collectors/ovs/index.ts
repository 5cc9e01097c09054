// ovs: Open vSwitch's kernel datapath (upcalls, actions, their results) and, with --ovs-track,
// ovs-vswitchd's handling of the upcalls (USDT), named by a queue id both sides compute
// (docs/ovs.md). BPF: bpf/collectors/ovs.bpf.h (part), ovs.progs.bpf.h and ovs/ (programs).
import { partSection } from '../../decode/section.js';
import { defineCollector } from '../define.js';
import { inKernel } from '../kernel-parts.js';
import { CollectorError } from '@retrace/spec';
import { OvsDecoder } from './decode.js';
import { DEFAULT_ENRICH_RATE, startEnrichment } from './enrich.js';
import { LOOKUP_SKB_FROM, ovsActionName, planOvs } from './plan.js';

export interface OvsOptions {
  /** --ovs-track: follow upcalls into ovs-vswitchd (USDT) and back to their execution. */
  ovsTrack?: boolean;
  /** --ovs-enrich-flows: ask ovs-vswitchd about each flow a flow_lookup found (ovs-detrace events). */
  ovsEnrichFlows?: boolean;
  /** --ovs-enrich-rate: at most this many such requests a second (default 20). */
  ovsEnrichRate?: number;
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
  validate: (options) => {
    const r = options.ovsEnrichRate;
    if (r !== undefined && !(Number.isInteger(r) && r > 0))
      throw new CollectorError(`--ovs-enrich-rate must be a positive whole number of requests a second, got ${r}`);
  },
  idleNote: (options, why) => {
    const flags = [options.ovsTrack && '--ovs-track', options.ovsEnrichFlows && '--ovs-enrich-flows'].filter(Boolean);
    return flags.length ? `${flags.join(' and ')}: the ovs collector is not running (${why})` : undefined;
  },
  ownProbes: ({ features, options, note }, firstId) => {
    const plan = planOvs(features, firstId, { track: !!options.ovsTrack, stack: !!options.stack });
    for (const n of plan.notes) note(n);
    return plan.probes;
  },
  // With a filter, ovs-vswitchd's events are reported only for upcalls of followed packets.
  globals: ({ selective }) => ({ ovs_filtered: selective }),
  /** The datapath's programs, a load each (their records carry the ovs part). */
  attach: (p, { perTarget, link }) => {
    if (p.program === 'ovs_lookup_return') {
      const o = perTarget(p, ['ovs_process_entry', 'ovs_lookup_entry', 'ovs_lookup_return'], p.globals);
      link(o.program('ovs_process_entry').attachKprobe(LOOKUP_SKB_FROM));
      link(o.program('ovs_lookup_entry').attachKprobe(p.target));
      link(o.program('ovs_lookup_return').attachKprobe(p.target, { retprobe: true }));
      return;
    }
    if (p.mechanism === 'kretprobe') {
      const o = perTarget(p, ['ovs_kret_entry', 'ovs_kret_return'], p.globals);
      link(o.program('ovs_kret_entry').attachKprobe(p.target));
      link(o.program('ovs_kret_return').attachKprobe(p.target, { retprobe: true }));
      return;
    }
    if (p.program) link(perTarget(p, [p.program], p.globals).program(p.program).attachRawTracepoint(p.target));
  },
  start: (ctx) => {
    if (!ctx.options.ovsEnrichFlows) return {};
    if (!ctx.probes.some((p) => p.program === 'ovs_lookup_return')) {
      ctx.note('ovs: --ovs-enrich-flows does nothing: no flow_lookup events here (they need kprobes)');
      return {};
    }
    return (
      startEnrichment({
        layouts: ctx.layouts,
        rate: ctx.options.ovsEnrichRate ?? DEFAULT_ENRICH_RATE,
        emit: ctx.emit,
        note: ctx.note,
      }) ?? {}
    );
  },
  sections: (layouts) => {
    const decoder = new OvsDecoder(layouts.struct('retrace_ovs'), ovsActionName());
    return [partSection('ovs', layouts, 'ovs', (view, buf, at) => decoder.decode(view, buf, at))];
  },
});
