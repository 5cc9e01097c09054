// Runs the in-kernel filter on captured packets with BPF_PROG_TEST_RUN: `retrace filter` and
// the tcpdump ground-truth tests use the very eBPF that probes run.
import { BpfObject, KernelBtf, bpfObjectPath } from '@retrace/ebpf-loader';
import { installFilter, type CompiledFilter } from './packet-filter.js';

/** The test run refuses frames shorter than a whole Ethernet + IP(v6) header: pad them. The
 * filter still sees only the captured bytes (the capture length travels in cb[0]). */
const MIN_FRAME = 128;
/** Largest packet a tc test run accepts (a page minus headroom and shared info). */
export const TEST_RUN_MAX = 3700;

export interface FilterInput {
  data: Buffer;
  /** Length on the wire (cBPF `len`). */
  len: number;
  /** true: the packet starts at the IP header (no link layer). */
  l3?: boolean;
}

export class FilterRunner {
  private readonly obj: BpfObject;
  private readonly ctxSize: number;
  private readonly cbOffset: number;

  constructor(filter: CompiledFilter) {
    const btf = KernelBtf.vmlinux();
    const layout = btf.structLayout('__sk_buff');
    this.ctxSize = layout?.size ?? 192;
    this.cbOffset = layout?.fields['cb']?.offset ?? 48;
    const undo = installFilter(filter);
    try {
      // Filters with direct loads need their input as the probe gives it: a read-only pointer.
      this.obj = BpfObject.open(bpfObjectPath(filter.direct ? 'filter_run_direct' : 'filter_run'));
      this.obj.load();
    } finally {
      undo();
    }
  }

  /** Whether the filter accepts the packet. */
  matches(p: FilterInput): boolean {
    return this.run(p, 0).retval !== 0;
  }

  /** Average time of one run on the packet over `repeat` runs in the kernel, test harness included (benchmarks). */
  nsPerRun(p: FilterInput, repeat: number): number {
    return this.run(p, repeat).durationNs;
  }

  private run(p: FilterInput, repeat: number): { retval: number; durationNs: number } {
    const caplen = Math.min(p.data.length, TEST_RUN_MAX);
    const data = Buffer.alloc(Math.max(caplen, MIN_FRAME));
    p.data.copy(data, 0, 0, caplen);
    const ctx = Buffer.alloc(this.ctxSize);
    ctx.writeUInt32LE(caplen, this.cbOffset);
    ctx.writeUInt32LE(p.len, this.cbOffset + 4);
    ctx.writeUInt32LE(p.l3 ? 3 : 2, this.cbOffset + 8);
    return this.obj.program('run_filter').testRun(data, { ctx, outSize: 0, repeat });
  }

  close(): void {
    this.obj.close();
  }
}
