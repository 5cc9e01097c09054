// Wiring of --ovs-enrich-flows into a session: ovs-vswitchd's control socket, a tap that sees
// every flow_lookup record (and lets it be decoded as usual), the enricher, and the
// ovs-detrace events it makes.
import type { Event } from '@retrace/events';
import { partPlace, type RecordLayouts } from '../../decode/layout.js';
import { RetraceOvsFlags as F, RetraceOvsType as T } from '../../gen/probe-skeleton.js';
import type { RunningCollector } from '../collector.js';
import { FlowEnricher } from './flow-enricher.js';
import { ufidWords } from './ufid.js';
import { Unixctl, vswitchdControlPath } from './unixctl.js';

export const DEFAULT_ENRICH_RATE = 20;

export function startEnrichment(ctx: {
  layouts: RecordLayouts;
  rate: number;
  emit(ev: Event): void;
  note(msg: string): void;
  controlPath?: string;
}): RunningCollector | undefined {
  let path: string;
  try {
    path = ctx.controlPath ?? vswitchdControlPath();
  } catch (e) {
    ctx.note(`ovs: --ovs-enrich-flows does nothing: ${(e as Error).message}`);
    return undefined;
  }
  // retis waits 500 ms; a busy (or emulated) ovs-vswitchd can take longer to answer.
  const unixctl = new Unixctl(path, 2000);
  let detrace = false;
  unixctl.run('list-commands').then(
    (out) => {
      detrace = /^\s*ofproto\/detrace\b/m.test(out);
      if (!detrace)
        ctx.note(
          'ovs: this ovs-vswitchd has no ofproto/detrace (OVS 3.4+): ovs-detrace events carry the datapath flow, not the OpenFlow rules',
        );
    },
    (e: Error) => ctx.note(`ovs: --ovs-enrich-flows: ${e.message}`),
  );
  const enricher = new FlowEnricher({
    run: (m, p) => unixctl.run(m, p),
    detrace: () => detrace,
    rate: ctx.rate,
    emit: (info) => ctx.emit({ common: { timestamp: process.hrtime.bigint() }, 'ovs-detrace': info }),
  });
  const tap = lookupTap(ctx.layouts, (r) => enricher.request(r));
  return {
    tap,
    summary: () => {
      const s = enricher.stats;
      const parts = [`${s.emitted} flow(s) enriched`];
      if (s.failed) parts.push(`${s.failed} request(s) failed`);
      if (s.unsent) parts.push(`${s.unsent} unsent`);
      if (s.expired) parts.push(`${s.expired} dropped (flow aged out)`);
      return `ovs-flow-enricher: ${parts.join(', ')}`;
    },
    stop: () => {
      enricher.stop();
      unixctl.close();
    },
  };
}

/** Sees flow_lookup records before they are decoded (never consumes one). */
export function lookupTap(
  layouts: RecordLayouts,
  onLookup: (r: { ufid: number[]; flow: bigint; sf_acts: bigint }) => void,
): NonNullable<RunningCollector['tap']> {
  const place = partPlace(layouts, 'ovs');
  const present = layouts.event.fields['present']?.offset ?? 0;
  const f = layouts.struct('retrace_ovs').fields;
  const off = (n: string): number => place.offset + (f[n]?.offset ?? 0);
  const [type, flags, ufid, flow, acts] = ['type', 'flags', 'ufid', 'flow', 'sf_acts'].map(off) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return (view, buf, at, len) => {
    if (len < place.end || !(view.getUint32(at + present, true) & place.bit)) return false;
    if (view.getUint8(at + type) !== T.FLOW_LOOKUP || !(view.getUint8(at + flags) & F.UFID)) return false;
    const flowPtr = view.getBigUint64(at + flow, true);
    if (flowPtr)
      onLookup({ ufid: ufidWords(buf, at + ufid), flow: flowPtr, sf_acts: view.getBigUint64(at + acts, true) });
    return false;
  };
}
