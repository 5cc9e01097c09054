// What ovs-vswitchd said of a datapath flow (--ovs-enrich-flows), as text: on an `ovs-detrace`
// event, and on a flow_lookup that `retrace sort` enriched with it. Multi-line, the datapath flow
// and each OpenFlow rule get lines of their own (a rule is long and holds commas); single-line,
// the rules are separated by `; `.
import type { Event, Ovs, OvsDetrace } from './gen/event.js';
import { ovsText, ufidText } from './format-ovs.js';

const hex = (n: bigint | undefined): string => (n ?? 0n).toString(16);

/** ` dpflow ... ofpflows ...` after a flow's line; '' when OVS said nothing of it. */
export function flowInfoText(
  dpflow: string | undefined,
  ofpflows: readonly string[] | undefined,
  multiline: boolean,
): string {
  const rules = ofpflows ?? [];
  if (dpflow === undefined && rules.length === 0) return '';
  let s = '';
  if (dpflow !== undefined) s += multiline ? `\n  dpflow ${dpflow}` : ` dpflow ${dpflow}`;
  if (rules.length > 0)
    s += multiline ? `\n  ofpflows\n${rules.map((r) => `    ${r}`).join('\n')}` : ` ofpflows [${rules.join('; ')}]`;
  return s;
}

/** The `ovs-detrace` section's text: the flow it is about, then what OVS said of it. */
export function ovsDetraceText(d: Partial<OvsDetrace>, multiline: boolean): string {
  return (
    `ovs-detrace ufid ${ufidText(d.ufid)} flow ${hex(d.flow)} sf_acts ${hex(d.sf_acts)}` +
    flowInfoText(d.dpflow, d.ofpflows, multiline)
  );
}

/** The event's OVS lines: its ovs section (an enriched flow_lookup with its flow) and ovs-detrace. */
export function ovsLines(ev: Event, multiline: boolean): string[] {
  const lines: string[] = [];
  const o = ev.ovs;
  if (o) lines.push(ovsText(o as Ovs & Record<string, unknown>) + flowInfoText(o.dpflow, o.ofpflows, multiline));
  const d = ev['ovs-detrace'];
  if (d) lines.push(ovsDetraceText(d, multiline));
  return lines;
}
