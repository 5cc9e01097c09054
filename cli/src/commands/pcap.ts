// `retrace pcap FILE [-p PROBE] -o OUT.pcapng`: events carrying packet bytes as a pcap-ng
// capture for Wireshark/tshark, one interface per probe, each packet with its event.
import { writeFileSync } from 'node:fs';
import { parseProbe } from '@retrace/agent';
import {
  PcapngWriter,
  eventJsonSchema,
  formatEvent,
  openInput,
  probeInterfaceName,
  readEventLines,
  type ClockOffset,
  type Event,
} from '@retrace/events';
import { UsageError } from '../usage-error.js';

const KIND_TYPES: Record<string, string[]> = {
  tracepoint: ['raw_tracepoint'],
  kprobe: ['kprobe'],
  kretprobe: ['kretprobe'],
  fentry: ['fentry'],
  fexit: ['fexit'],
  usdt: [],
};

export async function pcap(file: string, probe: string | undefined, out: string | undefined): Promise<number> {
  if (!out) throw new UsageError('retrace pcap needs -o OUT.pcapng (- for stdout)');
  const spec = probe ? parseProbe(probe) : undefined;
  const writer = new PcapngWriter({ application: 'retrace', schema: JSON.stringify(eventJsonSchema()) });
  let offset: ClockOffset | undefined;
  let written = 0;
  let skipped = 0;
  const take = (ev: Event): void => {
    if (ev.startup?.clock_monotonic_offset) offset = ev.startup.clock_monotonic_offset;
    const iface = probeInterfaceName(ev);
    if (!iface || !ev.packet || !ev.kernel) {
      if (!ev.startup) skipped++;
      return;
    }
    if (spec && !(ev.kernel.symbol === spec.target && (KIND_TYPES[spec.kind] ?? []).includes(ev.kernel.probe_type)))
      return;
    const mono = ev.common?.timestamp ?? 0n;
    const wall = offset ? mono + BigInt(offset.sec) * 1_000_000_000n + BigInt(offset.nsec) : mono;
    writer.addEvent(
      ev,
      iface,
      wall,
      formatEvent(ev, { format: 'multi-line', ...(offset ? { clockOffset: offset } : {}) }),
    );
    written++;
  };
  for await (const { value } of readEventLines(openInput(file)))
    for (const ev of Array.isArray(value) ? value : [value]) take(ev);
  if (out === '-') process.stdout.write(writer.toBuffer());
  else writeFileSync(out, writer.toBuffer());
  process.stderr.write(
    `${written} packet(s) from ${writer.interfaces} probe(s) written to ${out}; ${skipped} event(s) without packet bytes skipped\n`,
  );
  return 0;
}
