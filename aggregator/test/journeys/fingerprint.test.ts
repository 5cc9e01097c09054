// One packet must get one fingerprint wherever it is seen (inside a tunnel, after NAT, a hop
// later) and different packets different ones; the walk must find the same innermost layers as
// the event model's parser.
import { parsePacketBase64, type Event } from '@retrace/events';
import { packetFingerprint, packetIdentity, readPacketFields } from '../../src/journeys/index.js';
import { b64, ether, event, icmpEcho, ipv4, overVxlan, pingPayload, podPing, tcp, udp, type Bytes } from './packets.js';

const ev = (packet: Bytes): Event => event({ ts: 1n, packet });
const fp = (packet: Bytes): string | undefined => packetFingerprint(ev(packet));

/** The same TCP segment before and after a NAT (DNAT to a pod, masquerade), with a new TTL. */
function tcpSegment(
  o: { src: string; dst: string; sport: number; dport: number; ttl: number; seq?: number },
  payload: Bytes,
): Bytes {
  return ether(
    '02:00:00:00:00:01',
    '02:00:00:00:00:02',
    0x0800,
    ipv4(
      { src: o.src, dst: o.dst, proto: 6, id: 0x1a2b, ttl: o.ttl, df: true },
      tcp({ sport: o.sport, dport: o.dport, seq: o.seq ?? 0x01020304, ack: 0x0a0b0c0d, flags: 0x18 }, payload),
    ),
  );
}

const httpGet = [...Buffer.from('GET /healthz HTTP/1.1\r\nHost: web\r\n\r\n')];

describe('packetFingerprint', () => {
  test('a ping and the same ping inside VXLAN between the nodes have one fingerprint', () => {
    const inner = podPing(1);
    const wrapped = overVxlan(inner);
    expect(parsePacketBase64(b64(wrapped)).inner?.l4).toMatchObject({ proto: 'icmp', seq: 1 }); // really tunnelled
    expect(fp(inner)).toBeDefined();
    expect(fp(wrapped)).toBe(fp(inner));
    // Another outer header (other node pair, other source port): still the same packet.
    expect(fp(overVxlan(inner, 40000))).toBe(fp(inner));
  });

  test('NAT and routing (addresses, ports, TTL, checksums) do not change it', () => {
    const before = tcpSegment({ src: '10.0.1.5', dst: '10.96.0.10', sport: 43512, dport: 80, ttl: 64 }, httpGet);
    const after = tcpSegment({ src: '192.168.0.10', dst: '10.0.2.7', sport: 61000, dport: 8080, ttl: 62 }, httpGet);
    expect(fp(after)).toBe(fp(before));
    expect(fp(podPing(3, { src: '172.16.0.1', dst: '10.0.9.9', ttl: 20 }))).toBe(fp(podPing(3)));
    // The TTL is reported apart: the earlier hop has the higher one.
    expect(packetIdentity(ev(before))?.ttl).toBe(64);
    expect(packetIdentity(ev(after))?.ttl).toBe(62);
  });

  test('different packets differ: next ping, other IP id, other payload, other TCP sequence', () => {
    const seen = new Set([
      fp(podPing(1)),
      fp(podPing(2)),
      fp(podPing(1, { id: 0x9999 })),
      fp(tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 64 }, httpGet)),
      fp(tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 64 }, [0x50, ...httpGet.slice(1)])),
      fp(tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 64, seq: 7 }, httpGet)),
    ]);
    expect(seen.size).toBe(6);
    // The trade-off: past the first 32 payload bytes, a difference is not seen.
    const tail = tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 64 }, [
      ...httpGet.slice(0, -1),
      0x21,
    ]);
    expect(fp(tail)).toBe(fp(tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 64 }, httpGet)));
    // Same ids and lengths, different payload: a DF datagram from an unconnected socket has IP id 0.
    const dns = (txid: number): Bytes =>
      ether(
        '02:00:00:00:00:01',
        '02:00:00:00:00:02',
        0x0800,
        ipv4(
          { src: '10.0.1.5', dst: '10.96.0.10', proto: 17, id: 0, df: true },
          udp(5353, 53, [txid >> 8, txid & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        ),
      );
    expect(fp(dns(0x1234))).not.toBe(fp(dns(0x1235)));
  });

  test('packets with nothing to identify them by have none', () => {
    const arp = ether('02:00:00:00:00:01', 'ff:ff:ff:ff:ff:ff', 0x0806, [
      0,
      1,
      8,
      0,
      6,
      4,
      0,
      1,
      ...new Array<number>(20).fill(0),
    ]);
    expect(fp(arp)).toBeUndefined();
    expect(packetFingerprint({ common: { timestamp: 1n } })).toBeUndefined();
    expect(fp(podPing(1).slice(0, 20))).toBeUndefined(); // the capture ends inside the IP header
  });

  test('an ICMP error is identified without the quoted headers NAT rewrites', () => {
    const quoted = (src: string): Bytes =>
      ipv4({ src, dst: '10.0.2.7', proto: 17, id: 7 }, udp(1000, 9999, [1, 2, 3, 4]));
    const unreachable = (src: string): Bytes =>
      ether(
        '02:00:00:00:00:01',
        '02:00:00:00:00:02',
        0x0800,
        ipv4({ src: '10.0.2.7', dst: src, proto: 1, id: 42 }, [3, 3, 0, 0, 0, 0, 0, 0, ...quoted(src)]),
      );
    expect(fp(unreachable('10.0.1.5'))).toBe(fp(unreachable('192.168.0.10')));
  });

  test('IPv6 (flow label, payload length), Geneve and IP-in-IP tunnels', () => {
    const v6 = (flow: number, hlim: number): Bytes => {
      const payload = icmpEcho({ type: 128, id: 1, seq: 9 }, pingPayload(9));
      const addr = (last: number): Bytes => [0xfd, 0, ...new Array<number>(13).fill(0), last];
      const w0 = ((6 << 28) | flow) >>> 0;
      const ip = [
        w0 >>> 24,
        (w0 >>> 16) & 0xff,
        (w0 >>> 8) & 0xff,
        w0 & 0xff,
        0,
        payload.length,
        58,
        hlim,
        ...addr(1),
        ...addr(2),
        ...payload,
      ];
      return ether('02:00:00:00:00:01', '02:00:00:00:00:02', 0x86dd, ip);
    };
    expect(fp(v6(0x12345, 64))).toBe(fp(v6(0x12345, 63)));
    expect(fp(v6(0x12345, 64))).not.toBe(fp(v6(0x12346, 64)));
    expect(fp(v6(0x12345, 64))).toMatch(/^6:58:74565:/);
    const inner = podPing(3);
    const geneve = ether(
      '52:54:00:00:00:0a',
      '52:54:00:00:00:0b',
      0x0800,
      ipv4(
        { src: '192.168.0.10', dst: '192.168.0.11', proto: 17, id: 1 },
        udp(50000, 6081, [0, 0, 0x65, 0x58, 0, 0, 5, 0, ...inner]),
      ),
    );
    expect(fp(geneve)).toBe(fp(inner));
    const ipip = ether(
      '52:54:00:00:00:0a',
      '52:54:00:00:00:0b',
      0x0800,
      ipv4({ src: '192.168.0.10', dst: '192.168.0.11', proto: 4, id: 2 }, inner.slice(14)),
    );
    expect(fp(ipip)).toBe(fp(inner)); // Calico's IPIP mode
  });

  test('the walk finds the same innermost layer as parsePacketBase64', () => {
    const outer = (proto: number, payload: Bytes): Bytes =>
      ether(
        '52:54:00:00:00:0a',
        '52:54:00:00:00:0b',
        0x0800,
        ipv4({ src: '192.168.0.10', dst: '192.168.0.11', proto, id: 1 }, payload),
      );
    const samples: Bytes[] = [
      podPing(5),
      overVxlan(podPing(5)),
      outer(17, udp(50000, 6081, [0, 0, 0x65, 0x58, 0, 0, 5, 0, ...podPing(6)])),
      outer(4, podPing(7).slice(14)),
      tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 9 }, httpGet),
      overVxlan(tcpSegment({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ttl: 9 }, httpGet)),
      ether(
        '02:00:00:00:00:01',
        '02:00:00:00:00:02',
        0x0800,
        ipv4(
          { src: '1.1.1.1', dst: '2.2.2.2', proto: 1, id: 3 },
          icmpEcho({ type: 0, id: 9, seq: 77 }, pingPayload(77)),
        ),
      ),
    ];
    for (const bytes of samples) {
      let p = parsePacketBase64(b64(bytes));
      while (p.inner) p = p.inner;
      const f = readPacketFields(b64(bytes));
      const ip = p.ip;
      if (ip?.version !== 4) throw new Error('samples are IPv4');
      expect(f).toMatchObject({ version: 4, proto: ip.proto, ident: ip.id, length: ip.totalLen, ttl: ip.ttl });
      const l4 = p.l4;
      if (l4?.proto === 'tcp') expect(f).toMatchObject({ l4: 'tcp', a: l4.seq, b: l4.ack, c: l4.flags });
      else if (l4?.proto === 'icmp') expect(f).toMatchObject({ l4: 'icmp', a: l4.type, b: l4.code, c: l4.seq });
      else throw new Error(`unexpected ${l4?.proto}`);
    }
  });
});
