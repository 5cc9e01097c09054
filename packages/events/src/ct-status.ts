// Names of conntrack status bits (enum ip_conntrack_status, linux/netfilter/nf_conntrack_common.h).

/** enum ip_conntrack_status bit names, low bit first. */
export const CT_STATUS_BITS = [
  'EXPECTED',
  'SEEN_REPLY',
  'ASSURED',
  'CONFIRMED',
  'SRC_NAT',
  'DST_NAT',
  'SEQ_ADJUST',
  'SRC_NAT_DONE',
  'DST_NAT_DONE',
  'DYING',
  'FIXED_TIMEOUT',
  'TEMPLATE',
  'NAT_CLASH',
  'HELPER',
  'OFFLOAD',
  'HW_OFFLOAD',
];

/** `CONFIRMED|SRC_NAT|...` for a status word; unnamed bits as `bit N`. */
export function ctStatusNames(status: number): string {
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) if ((status >>> bit) & 1) names.push(CT_STATUS_BITS[bit] ?? `bit ${bit}`);
  return names.join('|');
}
