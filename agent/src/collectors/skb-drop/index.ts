// skb-drop: where the kernel drops a packet (skb:kfree_skb), and why (enum skb_drop_reason).
// Filled by the core (bpf/include/chain.bpf.h) from the probe's config: the reason argument.
import { ProbeFlag, Sec } from '../../decode/layout.js';
import { requireFields } from '../../decode/record-header.js';
import { section } from '../../decode/section.js';
import { defineCollector } from '../define.js';
import { DropReasons } from './drop-reasons.js';

const NO_REASON = { drop_reason: 'UNAVAILABLE', subsys: 'kernel without drop reasons (< 5.17)' };
const NO_REASON_JSON = `"skb-drop":${JSON.stringify(NO_REASON)}`;

export const skbDrop = defineCollector({
  name: 'skb-drop',
  probes: () => [{ spec: 'tp:skb:kfree_skb', silent: false }],
  probeFlags: (p) => (p.kind === 'tracepoint' && p.symbol === 'skb:kfree_skb' ? ProbeFlag.DROP : 0),
  globals: () => ({ col_drop: true }),
  sections: ({ event }) => {
    const field = requireFields(event, ['drop_reason']).drop_reason;
    const reason = field.off;
    const reasons = new DropReasons();
    return [
      section(
        'skb-drop',
        ({ view, at, present }) => {
          if (present & Sec.DROP) {
            const r = reasons.name(view.getUint32(at + reason, true));
            return r.subsys ? { drop_reason: r.reason, subsys: r.subsys } : { drop_reason: r.reason };
          }
          return present & Sec.DROP_NO_REASON ? { ...NO_REASON } : undefined;
        },
        (t) =>
          t.ifPresent(
            Sec.DROP,
            (t) =>
              t
                .lit(',"skb-drop":{"drop_reason":')
                .table(field, (v) => {
                  const r = reasons.name(v);
                  return `${JSON.stringify(r.reason)}${r.subsys ? `,"subsys":${JSON.stringify(r.subsys)}` : ''}`;
                })
                .lit('}'),
            (t) => t.ifPresent(Sec.DROP_NO_REASON, (t) => t.lit(`,${NO_REASON_JSON}`)),
          ),
      ),
    ];
  },
});
