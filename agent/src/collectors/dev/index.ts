// dev: the network device the packet is on (name, ifindex) and the one it came in on.
// BPF: fill_dev_ns (bpf/include/sections.bpf.h), fields of the base record.
import { Sec } from '../../decode/layout.js';
import { cstr, requireFields } from '../../decode/record-header.js';
import { section } from '../../decode/section.js';
import { defineCollector } from '../define.js';

export const dev = defineCollector({
  name: 'dev',
  globals: () => ({ col_dev: true }),
  sections: ({ event }) => {
    const f = requireFields(event, ['dev_name', 'ifindex', 'rx_ifindex']);
    const [name, ifindex, rx] = [f.dev_name.off, f.ifindex.off, f.rx_ifindex.off];
    return [
      section(
        'dev',
        ({ view, buf, at, present }) => {
          if (!(present & Sec.DEV)) return undefined;
          const d: { name: string; ifindex: number; rx_ifindex?: number } = {
            name: cstr(buf, at + name, 16),
            ifindex: view.getUint32(at + ifindex, true),
          };
          if (present & Sec.RX_IFINDEX) d.rx_ifindex = view.getUint32(at + rx, true);
          return d;
        },
        (t) =>
          t.ifPresent(Sec.DEV, (t) =>
            t
              .lit(',"dev":{"name":')
              .str(name, 16)
              .lit(',"ifindex":')
              .num(f.ifindex)
              .ifPresent(Sec.RX_IFINDEX, (t) => t.lit(',"rx_ifindex":').num(f.rx_ifindex))
              .lit('}'),
          ),
      ),
    ];
  },
});
