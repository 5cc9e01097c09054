// ns: the packet's network namespace (inode number, and cookie where the kernel has one), from
// its device or else its socket. BPF: fill_dev_ns (bpf/include/sections.bpf.h), base record fields.
import { Sec } from '../../decode/layout.js';
import { requireFields } from '../../decode/record-header.js';
import { section } from '../../decode/section.js';
import { defineCollector } from '../define.js';

export const ns = defineCollector({
  name: 'ns',
  globals: () => ({ col_ns: true }),
  sections: ({ event }) => {
    const f = requireFields(event, ['netns_inum', 'netns_cookie']);
    const [inum, cookie] = [f.netns_inum.off, f.netns_cookie.off];
    return [
      section(
        'netns',
        ({ view, at, present }) => {
          if (!(present & Sec.NETNS)) return undefined;
          const n: { inum: number; cookie?: bigint } = { inum: view.getUint32(at + inum, true) };
          if (present & Sec.NETNS_COOKIE) n.cookie = view.getBigUint64(at + cookie, true);
          return n;
        },
        (t) =>
          t.ifPresent(Sec.NETNS, (t) =>
            t
              .lit(',"netns":{')
              .ifPresent(Sec.NETNS_COOKIE, (t) => t.lit('"cookie":').num(f.netns_cookie).lit(','))
              .lit('"inum":')
              .num(f.netns_inum)
              .lit('}'),
          ),
      ),
    ];
  },
});
