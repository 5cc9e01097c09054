// What identifies a packet across NAT: the fields no translation rewrites. IPv4: id, total
// length, protocol, fragment offset; IPv6: payload length, next header, flow label; then TCP
// sequence, acknowledgement and flags, UDP length, ICMP type, code and sequence. Addresses,
// ports, TTL and checksums are left out: NAT and forwarding change them.

/** The fingerprint of a packet from its network header on (transport right after it). */
export function fingerprintFromNetwork(network: Buffer, transport?: Buffer): string | undefined {
  if (network.length < 1) return undefined;
  const version = network.readUInt8(0) >> 4;
  let l4: Buffer | undefined;
  let proto: number;
  let ip: string;
  if (version === 4) {
    if (network.length < 20) return undefined;
    const ihl = (network.readUInt8(0) & 0xf) * 4;
    proto = network.readUInt8(9);
    const frag = network.readUInt16BE(6) & 0x1fff;
    ip = `4/${network.readUInt16BE(4)}/${network.readUInt16BE(2)}/${proto}/${frag}`;
    l4 = transport ?? (network.length > ihl ? network.subarray(ihl) : undefined);
    if (frag) l4 = undefined;
  } else if (version === 6) {
    if (network.length < 40) return undefined;
    proto = network.readUInt8(6);
    ip = `6/${network.readUInt32BE(0) & 0xfffff}/${network.readUInt16BE(4)}/${proto}`;
    l4 = transport ?? (network.length > 40 ? network.subarray(40) : undefined);
  } else {
    return undefined;
  }
  return `${ip}|${l4 ? transportPart(proto, l4) : ''}`;
}

function transportPart(proto: number, l4: Buffer): string {
  switch (proto) {
    case 6:
      return l4.length >= 14 ? `${l4.readUInt32BE(4)}/${l4.readUInt32BE(8)}/${l4.readUInt8(13)}` : '';
    case 17:
    case 136:
      return l4.length >= 6 ? `${l4.readUInt16BE(4)}` : '';
    case 1:
    case 58:
      return l4.length >= 8 ? `${l4.readUInt8(0)}/${l4.readUInt8(1)}/${l4.readUInt16BE(6)}` : '';
    default:
      return '';
  }
}

/** The fingerprint of captured packet bytes starting with an Ethernet header (VLAN tags skipped). */
export function fingerprintFromEthernet(frame: Buffer): string | undefined {
  let off = 12;
  let type = frame.length >= 14 ? frame.readUInt16BE(12) : 0;
  while ((type === 0x8100 || type === 0x88a8) && frame.length >= off + 6) {
    off += 4;
    type = frame.readUInt16BE(off);
  }
  if (type !== 0x0800 && type !== 0x86dd) return undefined;
  return fingerprintFromNetwork(frame.subarray(off + 2));
}
