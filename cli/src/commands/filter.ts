// `retrace filter -f EXPR CAPTURE`: runs the in-kernel filter (the eBPF probes would run) on each
// packet of a pcap/pcap-ng file and prints the 1-based numbers of the packets it accepts.
import { readFileSync } from 'node:fs';
import { FilterRunner, compileFilter, filterOptions } from '@retrace/agent';
import { probeFeatures } from '@retrace/ebpf-loader';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, readCapture } from '@retrace/events';
import { LineWriter } from '../output/line-writer.js';
import { UsageError } from '../usage-error.js';
import { refuseOverwrite } from '../output/same-file.js';

export function filter(expression: string | undefined, capture: string, verbose: boolean): number {
  if (!expression) throw new UsageError('retrace filter needs -f EXPRESSION (tcpdump syntax)');
  // `retrace filter -f x c.pcap >> c.pcap` would append text to the capture.
  refuseOverwrite('-o', '-', [{ what: 'the capture', path: capture }]);
  const packets = readCapture(readFileSync(capture));
  // Translated as this kernel's probes would run it (direct packet loads where it allows them).
  const compiled = compileFilter(expression, filterOptions(probeFeatures()));
  if (verbose)
    process.stderr.write(
      `${expression}: ${compiled.cbpfInstructions} classic BPF instructions -> ${compiled.ebpfInstructions} eBPF` +
        `${compiled.direct ? ' (direct packet loads)' : ''}; ` +
        `L3 variant: ${compiled.l3 ? `${compiled.l3.length / 8} eBPF` : `none (${compiled.l3Unavailable})`}\n`,
    );
  const runner = new FilterRunner(compiled);
  const out = new LineWriter('-');
  try {
    for (const p of packets) {
      if (p.linkType !== LINKTYPE_ETHERNET && p.linkType !== LINKTYPE_RAW)
        throw new UsageError(
          `packet ${p.number} has link type ${p.linkType}: only Ethernet and raw IP captures are supported`,
        );
      if (runner.matches({ data: p.data, len: p.len, l3: p.linkType === LINKTYPE_RAW })) out.line(String(p.number));
    }
  } finally {
    out.close();
    runner.close();
  }
  return 0;
}
