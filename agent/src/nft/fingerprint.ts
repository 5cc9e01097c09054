// What identifies a packet across NAT: the fields no translation rewrites. IPv4: id, total
// length, protocol, fragment offset; IPv6: payload length, next header, flow label; then TCP
// sequence, acknowledgement and flags, UDP (or UDP-Lite) length, ICMP type, code and sequence.
// Addresses, ports, TTL and checksums are left out: NAT and forwarding change them.
//
// Only the outer IP header and the transport right after it: that is all a trace message carries
// (the kernel copies at most 40 bytes of network header, so no IPv6 extension headers, and 20 of
// transport header), and the packet's own capture must give the same text. The headers are read
// by @retrace/events's PacketCursor, the walk every packet reader shares.
import { PacketCursor, PacketLayer } from '@retrace/events';

const cursor = new PacketCursor();

/** The fingerprint of a packet from its network header on (transport right after it, or apart). */
export function fingerprintFromNetwork(network: Buffer, transport?: Buffer): string | undefined {
  return fingerprint(cursor.resetIp(network), transport);
}

/** The fingerprint of captured packet bytes starting with an Ethernet header (VLAN tags skipped). */
export function fingerprintFromEthernet(frame: Buffer): string | undefined {
  return fingerprint(cursor.reset(frame), undefined);
}

function fingerprint(c: PacketCursor, transport: Buffer | undefined): string | undefined {
  let layer = c.next();
  while (layer === PacketLayer.ETHERNET || layer === PacketLayer.VLAN) layer = c.next();
  let ip: string;
  if (layer === PacketLayer.IPV4) {
    ip = `4/${c.ipId}/${c.ipTotalLen}/${c.ipProto}/${c.ipFragOffset / 8}`;
    if (c.ipFragOffset !== 0) return `${ip}|`; // a later fragment: no transport header
  } else if (layer === PacketLayer.IPV6) {
    ip = `6/${c.ip6FlowLabel}/${c.ip6PayloadLen}/${c.ip6NextHeader}`;
  } else {
    return undefined;
  }
  // A trace message's transport header comes apart, after the network header's end.
  if (transport) c.resetTransport(transport, c.ipProto);
  return `${ip}|${transportPart(c, c.next())}`;
}

function transportPart(c: PacketCursor, layer: PacketLayer): string {
  switch (layer) {
    case PacketLayer.TCP:
      return `${c.tcpSeq}/${c.tcpAck}/${c.tcpFlags & 0xff}`;
    case PacketLayer.UDP:
      return `${c.udpLength}`;
    case PacketLayer.ICMP:
      return c.icmpSeq >= 0 ? `${c.icmpType}/${c.icmpCode}/${c.icmpSeq}` : '';
    default: // an IPv6 extension header (the trace cannot show what follows it), or no transport
      return '';
  }
}
