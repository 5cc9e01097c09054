// retis 1.5 files nest what later versions keep in sections of their own: `skb.dev`, `skb.ns`
// and `skb.packet` (raw bytes under `packet`, later `raw`). Reading moves them to `dev`, `netns`
// and `packet` (as retis's own compatibility fixups do), so such an event prints, sorts and
// exports like a current one. The 1.5 header fields (`skb.eth`, `skb.ip`, `skb.tcp`...) stay
// where they are: with the raw bytes they say nothing more, without them legacy-skb.ts prints
// them and legacy-packet.ts rebuilds headers for pcap.
import { isObj, type Obj } from './json-fields.js';

/**
 * Moves a 1.5 `skb` section's nested dev, ns and packet to today's sections, in place. A section
 * the event already has wins (nothing is overwritten); anything unrecognised is left as it is.
 */
export function upgradeLegacyLayout(ev: Obj): void {
  const skb = ev['skb'];
  if (!isObj(skb)) return;

  const dev = skb['dev'];
  if (isObj(dev) && ev['dev'] === undefined) {
    ev['dev'] = dev;
    delete skb['dev'];
  }

  const ns = skb['ns'];
  // Early 1.5 wrote `{netns: inode}`, later 1.5 `{cookie, inum}` as the netns section is today.
  if (isObj(ns) && ev['netns'] === undefined && (ns['netns'] !== undefined || ns['inum'] !== undefined)) {
    const { netns, ...rest } = ns;
    ev['netns'] = netns === undefined ? rest : { ...rest, inum: netns };
    delete skb['ns'];
  }

  const packet = skb['packet'];
  if (isObj(packet) && ev['packet'] === undefined) {
    const data = typeof packet['packet'] === 'string' ? packet['packet'] : packet['raw'];
    if (typeof data === 'string') {
      const bytes = Buffer.from(data, 'base64').length;
      ev['packet'] = {
        len: packet['len'] ?? bytes,
        capture_len: packet['capture_len'] ?? bytes,
        data,
      };
      delete skb['packet'];
    }
  }
}

/** The 1.5 header fields of an `skb` section (`eth`, `ip`, `tcp`...), when it has any. */
export const NESTED_HEADER_KEYS = ['eth', 'arp', 'ip', 'tcp', 'udp', 'icmp', 'icmpv6'] as const;

export function hasNestedHeaders(skb: unknown): skb is Obj {
  return isObj(skb) && NESTED_HEADER_KEYS.some((k) => isObj(skb[k]));
}
