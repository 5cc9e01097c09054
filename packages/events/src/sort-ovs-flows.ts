// `retrace sort` joins what ovs-vswitchd said of a datapath flow (an `ovs-detrace` event, written
// by --ovs-enrich-flows) to the flow_lookup events that hit that flow, as retis's sort does: the
// lookup's ovs section gets the flow as OVS prints it (`dpflow`) and the OpenFlow rules behind it
// (`ofpflows`). A flow is the same only with the same ufid, `struct sw_flow` and actions
// addresses (a ufid reused for a new flow is another flow). The answer usually comes after the
// lookups that asked for it, so lookups are enriched both when added and when their series is
// released.
import type { Event, OvsDetrace } from './gen/event.js';

/** Flows remembered; the oldest are forgotten past this (a long capture sees many flows). */
const MAX_FLOWS = 100_000;

function flowKey(ufid: readonly number[] | undefined, flow: bigint | undefined, acts: bigint | undefined): string {
  return `${(ufid ?? []).map((w) => w >>> 0).join('-')}/${flow ?? 0n}/${acts ?? 0n}`;
}

export class OvsFlowInfo {
  private readonly flows = new Map<string, OvsDetrace>();

  /** Remembers an event's ovs-detrace section, if it has one. */
  record(ev: Event): void {
    const info = ev['ovs-detrace'];
    if (!info) return;
    const key = flowKey(info.ufid, info.flow, info.sf_acts);
    this.flows.delete(key); // re-inserted last: the Map's order is the forgetting order
    this.flows.set(key, info);
    if (this.flows.size > MAX_FLOWS) {
      const oldest = this.flows.keys().next();
      if (!oldest.done) this.flows.delete(oldest.value);
    }
  }

  /** The event with its flow_lookup enriched when its flow is known; otherwise the event itself. */
  enrich(ev: Event): Event {
    const o = ev.ovs;
    if (o?.event_type !== 'flow_lookup') return ev;
    const info = this.flows.get(flowKey(o.ufid, o.flow, o.sf_acts));
    if (!info) return ev;
    // A copy: the caller's event (and any other series holding it) stays as it was read.
    return { ...ev, ovs: { ...o, dpflow: info.dpflow, ofpflows: [...(info.ofpflows ?? [])] } };
  }
}
