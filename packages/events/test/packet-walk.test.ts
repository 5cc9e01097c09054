// The cursor the parser, the aggregator's fingerprint and the nft matcher share: the layers in
// order with their depth, the bounds it keeps to, and its other starting points.
import { PacketCursor, PacketLayer, TunnelKind, WalkStop } from '../src/index.js';
import { buf, ether, icmpEcho, ipv4, ipv6, tcp, udp, vxlan, type Bytes } from './helpers/packet-builder.js';

const SYN = 0x002;

const innerPing = (): Bytes =>
  ether({ type: 0x0800 }, ipv4({ src: '192.168.0.1', dst: '192.168.0.2', proto: 1, id: 5 }, icmpEcho(8, 3, 9)));
const overVxlan = (): Bytes =>
  ether(
    { type: 0x0800, tags: [{ vid: 7 }] },
    ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto: 17, id: 2 }, udp(40000, 4789, vxlan(42, innerPing()))),
  );

/** Every layer of a walk as [layer, depth], and the stop reason. */
function layers(c: PacketCursor): { seen: [PacketLayer, number][]; stop: WalkStop } {
  const seen: [PacketLayer, number][] = [];
  for (let l = c.next(); l !== PacketLayer.END; l = c.next()) seen.push([l, c.depth]);
  return { seen, stop: c.stop };
}

test('one header per step, the inner packet one level deeper', () => {
  const c = new PacketCursor().reset(buf(overVxlan()));
  const L = PacketLayer;
  expect(c.next()).toBe(L.ETHERNET);
  expect(c.ethertype).toBe(0x8100);
  expect(c.next()).toBe(L.VLAN);
  expect([c.vlanVid, c.ethertype]).toEqual([7, 0x0800]);
  expect(c.next()).toBe(L.IPV4);
  expect([c.ipId, c.ipProto, c.ipTtl, c.depth]).toEqual([2, 17, 64, 0]);
  expect(c.next()).toBe(L.UDP);
  expect([c.sport, c.dport]).toEqual([40000, 4789]);
  expect(c.next()).toBe(L.TUNNEL);
  expect([c.tunnelKind, c.vni]).toEqual([TunnelKind.VXLAN, 42]);
  expect(c.next()).toBe(L.ETHERNET);
  expect(c.depth).toBe(1);
  expect(c.next()).toBe(L.IPV4);
  expect([c.ipId, c.depth]).toEqual([5, 1]);
  expect(c.next()).toBe(L.ICMP);
  expect([c.icmpType, c.icmpEcho, c.icmpId, c.icmpSeq]).toEqual([8, true, 3, 9]);
  expect(c.next()).toBe(L.END);
  expect(c.stop).toBe(WalkStop.NONE);
  expect(c.next()).toBe(L.END); // and stays there
});

test('a frame inside a larger buffer: nothing past its end is read', () => {
  const whole = ether(
    { type: 0x0800 },
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6 }, tcp({ sport: 1, dport: 2, flags: SYN })),
  );
  const cutAt = 14 + 20 + 10; // inside the TCP header; the rest of it follows in the buffer
  const bytes = buf([0xee, 0xee, ...whole]);
  const c = new PacketCursor().reset(bytes, 2, 2 + cutAt);
  expect(layers(c)).toEqual({
    seen: [
      [PacketLayer.ETHERNET, 0],
      [PacketLayer.IPV4, 0],
    ],
    stop: WalkStop.TRUNCATED,
  });
  expect(layers(c.reset(bytes, 2))).toMatchObject({
    seen: [
      [1, 0],
      [4, 0],
      [PacketLayer.TCP, 0],
    ],
  });
});

test('one cursor walks packet after packet', () => {
  const c = new PacketCursor();
  expect(layers(c.reset(buf(overVxlan()))).seen.at(-1)).toEqual([PacketLayer.ICMP, 1]);
  expect(layers(c.reset(buf([1, 2, 3])))).toEqual({ seen: [], stop: WalkStop.TRUNCATED });
  expect(layers(c.reset(buf(innerPing())))).toEqual({
    seen: [
      [PacketLayer.ETHERNET, 0],
      [PacketLayer.IPV4, 0],
      [PacketLayer.ICMP, 0],
    ],
    stop: WalkStop.NONE,
  });
});

test('from an IP header of either version, or from a transport header alone', () => {
  const c = new PacketCursor();
  const v4 = buf(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, id: 77 }, udp(5, 6)));
  expect(c.resetIp(v4).next()).toBe(PacketLayer.IPV4);
  expect(c.ipId).toBe(77);
  const v6 = buf(ipv6({ src: '::1', dst: '::2', next: 6, flow: 0x12345 }, tcp({ sport: 80, dport: 81, flags: SYN })));
  expect(c.resetIp(v6).next()).toBe(PacketLayer.IPV6);
  expect([c.ip6FlowLabel, c.ip6NextHeader]).toEqual([0x12345, 6]);
  expect(c.next()).toBe(PacketLayer.TCP);
  expect(c.dport).toBe(81);
  const alone = buf(tcp({ sport: 9, dport: 10, seq: 1234, flags: SYN }));
  expect(c.resetTransport(alone, 6).next()).toBe(PacketLayer.TCP);
  expect([c.sport, c.tcpSeq, c.tcpFlags]).toEqual([9, 1234, SYN]);
  expect(c.resetTransport(alone, 0).next()).toBe(PacketLayer.OTHER); // an extension header is not walked
});
