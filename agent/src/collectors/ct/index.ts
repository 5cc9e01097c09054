// ct: the packet's conntrack entry and its parent (docs/ct.md). BPF: bpf/collectors/ct.bpf.h.
import { partSection } from '../../decode/section.js';
import { defineCollector } from '../define.js';
import { inKernel } from '../kernel-parts.js';
import { CtDecoder } from './decode.js';

/** conntrack is in the kernel (built in, or the nf_conntrack module is loaded). */
export const conntrackPresent = (): boolean => inKernel('nf_conntrack', 'nf_conn');

export const ct = defineCollector({
  name: 'ct',
  unavailable: () =>
    conntrackPresent()
      ? undefined
      : 'this kernel has no connection tracking loaded (modprobe nf_conntrack, or add a conntrack rule such as `ct state new`)',
  globals: () => ({ col_ct: true }),
  sections: (layouts) => {
    const decoder = new CtDecoder(
      layouts.struct('retrace_ct'),
      layouts.struct('retrace_ct_conn'),
      layouts.struct('retrace_ct_tuple'),
    );
    return [partSection('ct', layouts, 'ct', (view, buf, at) => decoder.decode(view, buf, at))];
  },
});
