// The packet parser on handcrafted bytes: every protocol it decodes, what it says about the rest,
// and captures cut anywhere.
import { formatIpv6, formatPacket, parsePacket, parsePacketBase64, tcpFlagsText } from '../src/index.js';
import {
  ahHeader,
  buf,
  ether,
  extHeader,
  fragHeader,
  geneve,
  icmpEcho,
  ip6,
  ipv4,
  ipv6,
  mac,
  routingHeader,
  tcp,
  udp,
  vxlan,
  type Bytes,
} from './helpers/packet-builder.js';

const SYN = 0x002;
const ACK = 0x010;
const PSH = 0x008;
const MSS_ETC = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]; // 20 bytes of options

const tcpSyn = (): Bytes =>
  ether(
    { type: 0x0800 },
    ipv4(
      { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 123 },
      tcp({ sport: 34567, dport: 80, seq: 123, flags: SYN, win: 64240, options: MSS_ETC }),
    ),
  );

test('IPv4/TCP: layers and the tcpdump-like line', () => {
  const p = parsePacket(buf(tcpSyn()));
  expect(p.eth).toEqual({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', ethertype: 0x0800 });
  expect(p.ip).toMatchObject({ version: 4, src: '10.0.0.1', dst: '10.0.0.2', proto: 6, ttl: 64, totalLen: 60 });
  expect(p.l4).toEqual({
    proto: 'tcp',
    sport: 34567,
    dport: 80,
    seq: 123,
    ack: 0,
    flags: SYN,
    window: 64240,
    headerLen: 40,
    optionsLen: 20,
    payloadLen: 0,
  });
  expect(formatPacket(p)).toBe(
    '10.0.0.1.34567 > 10.0.0.2.80 tos 0x0 ttl 64 id 123 off 0 len 60 proto TCP (6) flags [S] seq 123 win 64240 options len 20',
  );
  expect(formatPacket(p, { link: true })).toBe(
    '02:00:00:00:00:01 > 02:00:00:00:00:02 ethertype IPv4 (0x0800) ' + formatPacket(p),
  );
});

test('TCP: ack shown with the ACK flag; flags in tcpdump letters', () => {
  const bytes = ether(
    { type: 0x0800 },
    ipv4(
      { src: '10.0.0.2', dst: '10.0.0.1', proto: 6, id: 9, df: true, tos: 0x10, ttl: 63 },
      tcp({ sport: 80, dport: 34567, seq: 5, ack: 124, flags: PSH | ACK, win: 501 }, [1, 2, 3]),
    ),
  );
  const p = parsePacket(buf(bytes));
  expect(p.l4).toMatchObject({ payloadLen: 3, optionsLen: 0 });
  expect(formatPacket(p)).toBe(
    '10.0.0.2.80 > 10.0.0.1.34567 tos 0x4 ttl 63 id 9 off 0 [DF] len 43 proto TCP (6) flags [P.] seq 5:8 ack 124 win 501',
  );
  expect(tcpFlagsText(0)).toBe('none');
  expect(tcpFlagsText(SYN | ACK)).toBe('S.');
  expect(tcpFlagsText(0x1ff)).toBe('FSRP.UEWe');
});

test('stacked 802.1ad + 802.1Q tags, then UDP', () => {
  const bytes = ether(
    {
      type: 0x0800,
      tags: [
        { tpid: 0x88a8, vid: 100, pcp: 3 },
        { tpid: 0x8100, vid: 200, dei: true },
      ],
    },
    ipv4({ src: '192.168.1.1', dst: '192.168.1.2', proto: 17, id: 1 }, udp(5353, 53, [0, 0, 0, 0])),
  );
  const p = parsePacket(buf(bytes));
  expect(p.eth?.ethertype).toBe(0x88a8);
  expect(p.vlans).toEqual([
    { tpid: 0x88a8, pcp: 3, dei: false, vid: 100, ethertype: 0x8100 },
    { tpid: 0x8100, pcp: 0, dei: true, vid: 200, ethertype: 0x0800 },
  ]);
  expect(p.l4).toEqual({ proto: 'udp', sport: 5353, dport: 53, length: 12 });
  expect(formatPacket(p, { link: true })).toBe(
    '02:00:00:00:00:01 > 02:00:00:00:00:02 ethertype 802.1Q-QinQ (0x88a8) vlan 100 p 3 ethertype 802.1Q (0x8100) ' +
      'vlan 200 p 0 DEI ethertype IPv4 (0x0800) 192.168.1.1.5353 > 192.168.1.2.53 tos 0x0 ttl 64 id 1 off 0 len 32 proto UDP (17) len 4',
  );
});

test('ARP request and reply', () => {
  const arp = (op: number, sha: string, spa: number[], tha: string, tpa: number[]): Bytes =>
    ether({ type: 0x0806, dst: 'ff:ff:ff:ff:ff:ff' }, [
      0,
      1,
      8,
      0,
      6,
      4,
      0,
      op,
      ...mac(sha),
      ...spa,
      ...mac(tha),
      ...tpa,
    ]);
  const req = parsePacket(buf(arp(1, '02:00:00:00:00:01', [10, 0, 0, 1], '00:00:00:00:00:00', [10, 0, 0, 2])));
  expect(req.arp).toEqual({
    htype: 1,
    ptype: 0x0800,
    op: 1,
    senderMac: '02:00:00:00:00:01',
    senderIp: '10.0.0.1',
    targetMac: '00:00:00:00:00:00',
    targetIp: '10.0.0.2',
  });
  expect(formatPacket(req)).toBe('request who-has 10.0.0.2 tell 10.0.0.1');
  const rep = parsePacket(buf(arp(2, '02:00:00:00:00:02', [10, 0, 0, 2], '02:00:00:00:00:01', [10, 0, 0, 1])));
  expect(formatPacket(rep, { link: true })).toBe(
    '02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ethertype ARP (0x0806) reply 10.0.0.2 is-at 02:00:00:00:00:02',
  );
});

test('IPv4 options are skipped to reach the transport header', () => {
  const bytes = ether(
    { type: 0x0800 },
    ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, options: [1, 1, 1, 0] }, udp(1000, 2000)),
  );
  const p = parsePacket(buf(bytes));
  expect(p.ip).toMatchObject({ headerLen: 24, optionsLen: 4, totalLen: 32 });
  expect(p.l4).toMatchObject({ sport: 1000, dport: 2000 });
  expect(formatPacket(p)).toContain('len 32 opts len 4 proto UDP (17)');
});

test('IPv4 fragments: the first has the ports, a later one has none', () => {
  const first = parsePacket(
    buf(ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, id: 7, mf: true }, udp(1, 2, [9])))),
  );
  expect(first.ip).toMatchObject({ mf: true, fragOffset: 0 });
  expect(first.l4).toMatchObject({ sport: 1, dport: 2 });
  const later = parsePacket(
    buf(
      ether(
        { type: 0x0800 },
        ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, id: 7, fragOffset: 1480 }, [1, 2, 3, 4, 5, 6, 7, 8]),
      ),
    ),
  );
  expect(later.ip).toMatchObject({ mf: false, fragOffset: 1480, proto: 17 });
  expect(later.l4).toBeUndefined();
  expect(later.truncated).toBe(false);
  expect(formatPacket(later)).toBe('1.1.1.1 > 2.2.2.2 tos 0x0 ttl 64 id 7 off 1480 len 28 proto UDP (17)');
});

test('IPv6 hop-by-hop, routing and destination options before TCP', () => {
  const l4 = tcp({ sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 100 });
  const payload = extHeader(
    43,
    [5, 2, 0, 0, 1, 0],
    routingHeader(60, 0, 1, ['2001:db8::99'], extHeader(6, [1, 4, 0, 0, 0, 0], l4)),
  );
  const bytes = ether(
    { type: 0x86dd },
    ipv6({ src: '2001:db8::1', dst: 'fe80::2', next: 0, hlim: 1, flow: 0x12345 }, payload),
  );
  const p = parsePacket(buf(bytes));
  expect(p.ip).toMatchObject({ version: 6, src: '2001:db8::1', dst: 'fe80::2', nextHeader: 0, proto: 6, ttl: 1 });
  expect(p.ip?.version === 6 && p.ip.ext).toEqual([
    { kind: 'hop-by-hop', len: 8 },
    { kind: 'routing', len: 24, routingType: 0, segmentsLeft: 1 },
    { kind: 'destination', len: 8 },
  ]);
  expect(p.l4).toMatchObject({ proto: 'tcp', sport: 443, dport: 50000 });
  expect(formatPacket(p)).toBe(
    `2001:db8::1.443 > fe80::2.50000 ttl 1 label 0x12345 len ${payload.length} HBH RT6 (type 0, segleft 1) DSTOPT ` +
      'proto TCP (6) flags [.] seq 1 ack 2 win 100',
  );
});

test('IPv6 fragment header: first fragment decoded, later ones stop at the fragment', () => {
  const first = parsePacket(
    buf(
      ether(
        { type: 0x86dd },
        ipv6({ src: '::1', dst: '::2', next: 44 }, fragHeader(17, 0, true, 0xabcd, udp(7, 8, [1]))),
      ),
    ),
  );
  expect(first.ip?.version === 6 && first.ip.ext).toEqual([{ kind: 'fragment', offset: 0, more: true, id: 0xabcd }]);
  expect(first.l4).toMatchObject({ proto: 'udp', sport: 7, dport: 8 });
  const later = parsePacket(
    buf(
      ether(
        { type: 0x86dd },
        ipv6({ src: '::1', dst: '::2', next: 44 }, fragHeader(17, 1232, false, 0xabcd, [1, 2, 3, 4])),
      ),
    ),
  );
  expect(later.ip).toMatchObject({ proto: 17 });
  expect(later.l4).toBeUndefined();
  expect(formatPacket(later)).toBe('::1 > ::2 ttl 64 label 0x0 len 12 frag (off 1232, id 0xabcd) proto UDP (17)');
});

test('IPv6 AH then ICMPv6 echo request', () => {
  const bytes = ether(
    { type: 0x86dd },
    ipv6(
      { src: 'fe80::1', dst: 'ff02::1', next: 51, hlim: 255, tc: 0xe0 },
      ahHeader(58, 0x100, 19, icmpEcho(128, 77, 3)),
    ),
  );
  const p = parsePacket(buf(bytes));
  expect(p.ip?.version === 6 && p.ip.ext).toEqual([{ kind: 'ah', len: 24, spi: 0x100, seq: 19, icv: 'aa'.repeat(12) }]);
  expect(p.l4).toEqual({ proto: 'icmpv6', type: 128, code: 0, id: 77, seq: 3 });
  expect(formatPacket(p)).toBe(
    'fe80::1 > ff02::1 ttl 255 class 0xe0 label 0x0 len 32 AH (spi 0x100, seq 19) proto ICMPv6 (58) type 128 code 0',
  );
});

test('ICMP: echo, errors and unknown types', () => {
  const icmp = (payload: Bytes): string =>
    formatPacket(
      parsePacket(
        buf(ether({ type: 0x0800 }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, id: 1, df: true }, payload))),
      ),
    );
  expect(icmp(icmpEcho(8, 7, 1))).toBe(
    '10.0.0.1 > 10.0.0.2 tos 0x0 ttl 64 id 1 off 0 [DF] len 28 proto ICMP (1) type 8 code 0',
  );
  expect(icmp(icmpEcho(0, 7, 1))).toMatch(/proto ICMP \(1\) type 0 code 0$/);
  expect(icmp([3, 3, 0, 0, 0, 0, 0, 0])).toMatch(/proto ICMP \(1\) type 3 code 3$/);
  expect(icmp([42, 1, 0, 0])).toMatch(/proto ICMP \(1\) type 42 code 1$/);
});

test('ICMPv6 neighbor solicitation: its target decoded, printed as retis (type and code)', () => {
  const ns = [135, 0, 0, 0, 0, 0, 0, 0, ...ip6('fe80::99')];
  const p = parsePacket(
    buf(ether({ type: 0x86dd }, ipv6({ src: '::', dst: 'ff02::1:ff00:99', next: 58, hlim: 255 }, ns))),
  );
  expect(p.l4).toEqual({ proto: 'icmpv6', type: 135, code: 0, target: 'fe80::99' });
  expect(formatPacket(p)).toMatch(/proto ICMPv6 \(58\) type 135 code 0$/);
});

const innerTcp = (): Bytes =>
  ether(
    { src: '0a:00:00:00:00:01', dst: '0a:00:00:00:00:02', type: 0x0800 },
    ipv4(
      { src: '192.168.0.1', dst: '192.168.0.2', proto: 6, id: 5 },
      tcp({ sport: 1234, dport: 22, seq: 9, flags: SYN, win: 1000 }),
    ),
  );

const vxlanPacket = (): Bytes =>
  ether(
    { type: 0x0800 },
    ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto: 17, id: 2 }, udp(40000, 4789, vxlan(42, innerTcp()))),
  );

test('VXLAN: the inner Ethernet/IPv4/TCP packet', () => {
  const p = parsePacket(buf(vxlanPacket()));
  expect(p.l4).toMatchObject({ proto: 'udp', dport: 4789 });
  expect(p.tunnel).toEqual({ kind: 'vxlan', flags: 0x08, vni: 42 });
  expect(p.inner?.eth).toEqual({ src: '0a:00:00:00:00:01', dst: '0a:00:00:00:00:02', ethertype: 0x0800 });
  expect(p.inner?.ip).toMatchObject({ src: '192.168.0.1', dst: '192.168.0.2' });
  expect(p.inner?.l4).toMatchObject({ proto: 'tcp', sport: 1234, dport: 22, flags: SYN });
  expect(formatPacket(p)).toBe(
    '172.16.0.1.40000 > 172.16.0.2.4789 tos 0x0 ttl 64 id 2 off 0 len 90 proto UDP (17) len 62 VXLAN vni 42: ' +
      '192.168.0.1.1234 > 192.168.0.2.22 tos 0x0 ttl 64 id 5 off 0 len 40 proto TCP (6) flags [S] seq 9 win 1000',
  );
  expect(formatPacket(p, { link: true })).toContain(
    'VXLAN vni 42: 0a:00:00:00:00:01 > 0a:00:00:00:00:02 ethertype IPv4',
  );
});

test('Geneve: inner Ethernet (TEB) after options, or inner IP directly', () => {
  const teb = parsePacket(
    buf(
      ether(
        { type: 0x0800 },
        ipv4(
          { src: '20.0.0.1', dst: '20.0.0.2', proto: 17 },
          udp(12618, 6081, geneve(0xa, 0x6558, [0, 0, 0x80, 1, 1, 2, 3, 4], innerTcp())),
        ),
      ),
    ),
  );
  expect(teb.tunnel).toEqual({
    kind: 'geneve',
    flags: 0,
    vni: 0xa,
    protocol: 0x6558,
    optionsLen: 8,
    options: [{ class: 0, type: 0x80, len: 8 }],
  });
  expect(teb.inner?.l4).toMatchObject({ sport: 1234, dport: 22 });
  expect(formatPacket(teb)).toContain(
    'Geneve vni 10 proto TEB (0x6558) options [class 0x0 type 0x80(C) len 8]: 192.168.0.1.1234 > 192.168.0.2.22',
  );

  const raw = ipv4({ src: '30.0.0.1', dst: '30.0.0.2', proto: 1 }, icmpEcho(8, 1, 2));
  const ip = parsePacket(
    buf(
      ether(
        { type: 0x86dd },
        ipv6({ src: '2001::1', dst: '2001::2', next: 17 }, udp(999, 6081, geneve(7, 0x0800, [], raw))),
      ),
    ),
  );
  expect(ip.inner?.eth).toBeUndefined();
  expect(ip.inner?.ip).toMatchObject({ src: '30.0.0.1', dst: '30.0.0.2' });
  expect(ip.inner?.l4).toMatchObject({ proto: 'icmp', type: 8, id: 1, seq: 2 });
});

test('IP-in-IP (Calico) and IPv6-in-IPv4: the inner packet after the outer IP header', () => {
  const inner = ipv4({ src: '10.0.1.5', dst: '10.0.2.7', proto: 1, id: 9 }, icmpEcho(8, 4, 2));
  const p = parsePacket(
    buf(ether({ type: 0x0800 }, ipv4({ src: '192.168.0.10', dst: '192.168.0.11', proto: 4 }, inner))),
  );
  expect(p.tunnel).toEqual({ kind: 'ipip', vni: 0, flags: 0, protocol: 0x0800 });
  expect(p.inner?.eth).toBeUndefined();
  expect(p.inner?.ip).toMatchObject({ src: '10.0.1.5', dst: '10.0.2.7', id: 9 });
  expect(p.inner?.l4).toMatchObject({ proto: 'icmp', id: 4, seq: 2 });
  expect(formatPacket(p)).toBe(
    '192.168.0.10 > 192.168.0.11 tos 0x0 ttl 64 id 0 off 0 len 48 proto IPIP (4): ' +
      '10.0.1.5 > 10.0.2.7 tos 0x0 ttl 64 id 9 off 0 len 28 proto ICMP (1) type 8 code 0',
  );
  const v6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: 17 }, udp(1, 2, [7]));
  const sit = parsePacket(buf(ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 41 }, v6))));
  expect(sit.tunnel).toMatchObject({ kind: 'ipip', protocol: 0x86dd });
  expect(sit.inner?.ip).toMatchObject({ version: 6, src: '2001:db8::1' });
  expect(sit.inner?.l4).toMatchObject({ proto: 'udp', sport: 1, dport: 2 });
  // An outer header with nothing after it: no inner packet, nothing cut.
  const bare = parsePacket(buf(ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 4 }, []))));
  expect(bare).toMatchObject({ tunnel: { kind: 'ipip', protocol: 0x0800 }, truncated: false, notes: [] });
  expect(bare.inner).toBeUndefined();
});

test('UDP-Lite: ports and the checksum coverage', () => {
  const lite = [...udp(5000, 5001, [1, 2, 3, 4])];
  lite[4] = 0;
  lite[5] = 8; // coverage: the header only
  const p = parsePacket(buf(ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 136 }, lite))));
  expect(p.l4).toEqual({ proto: 'udplite', sport: 5000, dport: 5001, length: 8 });
  expect(formatPacket(p)).toBe(
    '1.1.1.1.5000 > 2.2.2.2.5001 tos 0x0 ttl 64 id 0 off 0 len 32 proto UDPLite (136) UDP-Lite coverage 8',
  );
});

test('tunnels nested deeper than the walk goes are noted, the outer layers kept', () => {
  let frame = ether({ type: 0x0800 }, ipv4({ src: '9.9.9.9', dst: '8.8.8.8', proto: 1 }, icmpEcho(8, 1, 1)));
  for (let i = 0; i < 4; i++)
    frame = ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17 }, udp(1, 4789, vxlan(i, frame))));
  let p = parsePacket(buf(frame));
  for (let i = 0; i < 3; i++) p = p.inner ?? p;
  expect(p.tunnel).toMatchObject({ kind: 'vxlan', vni: 0 });
  expect(p.inner).toBeUndefined();
  expect(p.notes).toEqual(['more than 4 nested tunnels, inner not parsed']);
});

test('what is not decoded ends the parse with a note', () => {
  const lldp = parsePacket(buf(ether({ type: 0x88cc }, [2, 7, 4])));
  expect(lldp.notes).toEqual(['ethertype LLDP (0x88cc) not supported']);
  expect(formatPacket(lldp)).toBe('(ethertype LLDP (0x88cc) not supported)');
  const gre = parsePacket(
    buf(ether({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 47 }, [0, 0, 8, 0]))),
  );
  expect(gre.notes).toEqual(['GRE (47) not supported']);
  expect(formatPacket(gre)).toBe(
    '1.1.1.1 > 2.2.2.2 tos 0x0 ttl 64 id 0 off 0 len 24 proto GRE (47) (GRE (47) not supported)',
  );
  const llc = parsePacket(buf([...mac('01:80:c2:00:00:00'), ...mac('02:00:00:00:00:01'), 0, 38, 0x42, 0x42, 3]));
  expect(llc.notes).toEqual(['802.3 frame, length 38, not supported']);
});

test('a zeroed Ethernet header (probe without link layer) still decodes', () => {
  const bytes = tcpSyn();
  bytes.fill(0, 0, 12);
  const p = parsePacket(buf(bytes));
  expect(p.l4).toMatchObject({ sport: 34567, dport: 80 });
  expect(formatPacket(p, { link: true })).toMatch(
    /^00:00:00:00:00:00 > 00:00:00:00:00:00 ethertype IPv4 \(0x0800\) 10\.0\.0\.1\.34567/,
  );
});

test('a capture cut inside the TCP header says [truncated] and keeps what it read', () => {
  const bytes = tcpSyn().slice(0, 14 + 20 + 10);
  const p = parsePacket(buf(bytes));
  expect(p.truncated).toBe(true);
  expect(p.ip).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2' });
  expect(p.l4).toBeUndefined();
  expect(formatPacket(p)).toBe('10.0.0.1 > 10.0.0.2 tos 0x0 ttl 64 id 123 off 0 len 60 proto TCP (6) [truncated]');
  expect(parsePacket(buf([1, 2, 3]))).toEqual({ vlans: [], notes: [], truncated: true });
});

test('every prefix of every packet above parses without throwing', () => {
  const v6 = ether(
    { type: 0x86dd },
    ipv6(
      { src: '::1', dst: '::2', next: 0 },
      extHeader(51, [], ahHeader(44, 1, 1, fragHeader(17, 0, true, 1, udp(1, 4789, vxlan(1, innerTcp()))))),
    ),
  );
  for (const full of [tcpSyn(), vxlanPacket(), v6]) {
    for (let n = 0; n <= full.length; n++) {
      const p = parsePacket(buf(full.slice(0, n)));
      expect(typeof formatPacket(p, { link: true })).toBe('string');
      if (n < full.length && n < 14 + 20) expect(p.truncated).toBe(true);
    }
    expect(parsePacket(buf(full)).truncated).toBe(false);
  }
  expect(parsePacket(buf(v6)).inner?.l4).toMatchObject({ sport: 1234 });
});

test('packet.data of events is base64', () => {
  const p = parsePacketBase64(Buffer.from(tcpSyn()).toString('base64'));
  expect(p.l4).toMatchObject({ sport: 34567 });
});

test('IPv6 addresses are written like inet_ntop (RFC 5952)', () => {
  const f = (s: string): string => formatIpv6(Uint8Array.from(ip6(s)));
  expect(f('0:0:0:0:0:0:0:0')).toBe('::');
  expect(f('0:0:0:0:0:0:0:1')).toBe('::1');
  expect(f('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
  expect(f('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
  expect(f('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
  expect(formatIpv6(Uint8Array.from([...new Array<number>(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]))).toBe(
    '::ffff:10.0.0.1',
  );
});
