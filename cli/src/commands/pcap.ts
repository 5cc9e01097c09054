// `retrace pcap [FILE] [-p PROBE] [-o OUT.pcapng]`: events carrying packet bytes as a pcap-ng
// capture for Wireshark/tshark, one interface per probe, each packet with its event; on standard
// output without -o, as retis. Nothing is written when -p matches no event (retis fails too).
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
import type { EventsInput } from './input.js';

const KIND_TYPES: Record<string, string[]> = {
  tracepoint: ['raw_tracepoint'],
  kprobe: ['kprobe'],
  kretprobe: ['kretprobe'],
  fentry: ['fentry'],
  fexit: ['fexit'],
  usdt: [],
};

/** -p named a probe no event of the input comes from: nothing is written. */
export class ProbeNotFoundError extends Error {
  constructor(
    readonly probe: string,
    readonly input: string,
  ) {
    super(
      `probe ${probe} not found in the events of ${input === '-' ? 'standard input' : input}: nothing written ` +
        '(retrace stats lists the probes of a file)',
    );
    this.name = 'ProbeNotFoundError';
  }
}

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
  from: EventsInput,
  probe: string | undefined,
  out: string | undefined,
  profiles: readonly InputFile[] = [],
): Promise<number> {
  const target = out ?? '-';
  refuseOverwrite('-o', target, [...from.files, ...profiles]);
  if (target === '-' && process.stdout.isTTY)
    throw new UsageError(
      'retrace pcap writes pcap-ng to standard output, which is a terminal: redirect it (> out.pcapng, | tshark -r -) or give -o OUT.pcapng',
    );
  const input = openInput(from.spec);
  const spec = probe ? parseProbe(probe) : undefined;
  const writer = new PcapngWriter({ application: 'retrace', schema: JSON.stringify(eventJsonSchema()) });
  let offset: ClockOffset | undefined;
  let written = 0;
  let skipped = 0;
  let events = 0;
  let matched = 0;
  const take = (ev: Event): void => {
    events++;
    if (ev.startup?.clock_monotonic_offset) offset = ev.startup.clock_monotonic_offset;
    if (ev.startup) return;
    const k = ev.kernel;
    if (spec && !(k && k.symbol === spec.target && (KIND_TYPES[spec.kind] ?? []).includes(k.probe_type))) return;
    matched++;
    const iface = probeInterfaceName(ev);
    const packet = ev.packet ?? olderFilePacket(ev);
    if (!iface || !packet || !k) {
      skipped++;
      return;
    }
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
  if (!events) throw new EmptyInputError(from.name);
  // As retis: a probe that matches nothing is an error, and no empty capture is left behind.
  if (probe && !matched) throw new ProbeNotFoundError(probe, from.name);
  const file = new PcapngFile(target);
  file.write(writer.toBuffer());
  file.close();
  process.stderr.write(
    `${written} packet(s) from ${writer.interfaces} probe(s) written to ${target === '-' ? 'standard output' : target}; ` +
      `${skipped} event(s) without packet bytes skipped\n`,
  );
  return 0;
}
