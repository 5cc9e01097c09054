// `retrace pcap FILE [-p PROBE] -o OUT.pcapng`: events carrying packet bytes as a pcap-ng
// capture for Wireshark/tshark, one interface per probe, each packet with its event.
import { parseProbe } from '@retrace/spec';
import {
  PcapngWriter,
  eventJsonSchema,
  formatEvent,
  legacyPacket,
  openInput,
  probeInterfaceName,
  readEventLines,
  type ClockOffset,
  type Event,
} from '@retrace/events';
import { UsageError } from '../usage-error.js';
import { PcapngFile } from '../output/pcapng-file.js';
import { refuseOverwrite, type InputFile } from '../output/same-file.js';
import { EmptyInputError } from './empty-input.js';

const KIND_TYPES: Record<string, string[]> = {
  tracepoint: ['raw_tracepoint'],
  kprobe: ['kprobe'],
  kretprobe: ['kretprobe'],
  fentry: ['fentry'],
  fexit: ['fexit'],
  usdt: [],
};

/**
 * Files of retis before 1.5's raw packets describe headers field by field in `skb`: their bytes
 * rebuilt (headers only, the capture length says so) so those events are exported too.
 */
function olderFilePacket(ev: Event): Event['packet'] {
  const p = legacyPacket(ev.skb);
  return p && { len: p.len, capture_len: p.data.length, data: p.data.toString('base64') };
}

/** `profiles`: the profile files the command line used (inputs too). */
export async function pcap(
  file: string,
  probe: string | undefined,
  out: string | undefined,
  profiles: readonly InputFile[] = [],
): Promise<number> {
  if (!out) throw new UsageError('retrace pcap needs -o OUT.pcapng (- for stdout)');
  refuseOverwrite('-o', out, [{ what: 'the events file', path: file }, ...profiles]);
  const input = openInput(file);
  const spec = probe ? parseProbe(probe) : undefined;
  const writer = new PcapngWriter({ application: 'retrace', schema: JSON.stringify(eventJsonSchema()) });
  let offset: ClockOffset | undefined;
  let written = 0;
  let skipped = 0;
  let events = 0;
  const take = (ev: Event): void => {
    events++;
    if (ev.startup?.clock_monotonic_offset) offset = ev.startup.clock_monotonic_offset;
    const iface = probeInterfaceName(ev);
    const packet = ev.packet ?? olderFilePacket(ev);
    if (!iface || !packet || !ev.kernel) {
      if (!ev.startup) skipped++;
      return;
    }
    if (spec && !(ev.kernel.symbol === spec.target && (KIND_TYPES[spec.kind] ?? []).includes(ev.kernel.probe_type)))
      return;
    const mono = ev.common?.timestamp ?? 0n;
    const wall = offset ? mono + BigInt(offset.sec) * 1_000_000_000n + BigInt(offset.nsec) : mono;
    writer.addEvent(
      ev.packet ? ev : { ...ev, packet },
      iface,
      wall,
      formatEvent(ev, { format: 'multi-line', ...(offset ? { clockOffset: offset } : {}) }),
    );
    written++;
  };
  for await (const { value } of readEventLines(input))
    for (const ev of Array.isArray(value) ? value : [value]) take(ev);
  if (!events) throw new EmptyInputError(file);
  const target = new PcapngFile(out);
  target.write(writer.toBuffer());
  target.close();
  process.stderr.write(
    `${written} packet(s) from ${writer.interfaces} probe(s) written to ${out}; ${skipped} event(s) without packet bytes skipped\n`,
  );
  return 0;
}
