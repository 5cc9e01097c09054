// ns: the packet's network namespace (inode number, and cookie where the kernel has one), from
// its device or else its socket. BPF: fill_dev_ns (bpf/include/sections.bpf.h), base record fields.
import { integerJson } from '@retrace/events';
import { Sec } from '../../decode/layout.js';
import { requireOffsets } from '../../decode/record-header.js';
import { section } from '../../decode/section.js';
import { defineCollector } from '../define.js';

export const ns = defineCollector({
  name: 'ns',
  globals: () => ({ col_ns: true }),
  sections: ({ event }) => {
    const o = requireOffsets(event, ['netns_inum', 'netns_cookie']);
    const [inum, cookie] = [o['netns_inum'], o['netns_cookie']] as [number, number];
    return [
      section(
        'netns',
        ({ view, at, present }) => {
          if (!(present & Sec.NETNS)) return undefined;
          const n: { inum: number; cookie?: bigint } = { inum: view.getUint32(at + inum, true) };
          if (present & Sec.NETNS_COOKIE) n.cookie = view.getBigUint64(at + cookie, true);
          return n;
        },
        ({ view, at, present }) =>
          present & Sec.NETNS
            ? `"netns":{${present & Sec.NETNS_COOKIE ? `"cookie":${integerJson(view.getBigUint64(at + cookie, true))},` : ''}"inum":${view.getUint32(at + inum, true)}}`
            : undefined,
      ),
    ];
  },
});
