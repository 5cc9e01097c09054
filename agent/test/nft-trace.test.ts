// nftables trace messages, the NAT-invariant fingerprint and the matcher, on built messages.
import {
  MATCH_WINDOW_NS,
  NftMatcher,
  fingerprintFromEthernet,
  fingerprintFromNetwork,
  parseTraceDatagram,
  verdictName,
  type NftTrace,
} from '@retrace/agent';
import { parseVerdicts } from '@retrace/spec';
import type { Event } from '@retrace/events';

function attr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  value.copy(b, 4);
  return b;
}
const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

/** NFT_MSG_TRACE netlink message as the kernel builds it (nf_tables_trace.c). */
function traceMessage(opts: { family: number; attrs: Buffer[] }): Buffer {
  const payload = Buffer.concat([Buffer.from([opts.family, 0, 0, 0]), ...opts.attrs]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + payload.length, 0);
  hdr.writeUInt16LE((10 << 8) | 17, 4);
  return Buffer.concat([hdr, payload]);
}

// 10.0.0.1:1234 > 10.0.0.2:9999 UDP, IP id 0x4242
function ipv4Udp(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const ip = Buffer.from('450000210042400040110000', 'hex');
  ip.writeUInt16BE(0x4242, 4);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(13, 4);
  return Buffer.concat([ip, Buffer.from(src), Buffer.from(dst), udp]);
}

test('a drop by a rule: table, chain, handle, verdict, family and headers', () => {
  const pkt = ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1234, 9999);
  const handle = Buffer.alloc(8);
  handle.writeBigUInt64BE(7n);
  const msg = traceMessage({
    family: 2,
    attrs: [
      attr(15, be32(2)),
      attr(4, be32(3)),
      attr(6, be32(0xabcd)),
      attr(2, cstr('forward')),
      attr(1, cstr('filter')),
      attr(3, handle),
      attr(5 | 0x8000, attr(1, be32(0))),
      attr(8, pkt.subarray(0, 20)),
      attr(9, pkt.subarray(20)),
    ],
  });
  const [t] = parseTraceDatagram(msg);
  expect(t).toMatchObject({
    family: 'ip',
    table: 'filter',
    chain: 'forward',
    ruleHandle: 7n,
    verdict: 'drop',
    policy: false,
    id: 0xabcd,
  });
  expect(fingerprintFromNetwork(t?.network as Buffer, t?.transport)).toBe(fingerprintFromNetwork(pkt));
});

test('verdict codes: drops with an errno, jumps with their chain, policies', () => {
  expect(verdictName((1 << 16) | 0)).toBe('drop');
  expect(verdictName(1)).toBe('accept');
  expect(verdictName(-3)).toBe('jump');
  const jump = traceMessage({
    family: 1,
    attrs: [attr(4, be32(3)), attr(5 | 0x8000, Buffer.concat([attr(1, be32(-3)), attr(2, cstr('other'))]))],
  });
  expect(parseTraceDatagram(jump)[0]).toMatchObject({ family: 'inet', verdict: 'jump', verdictChain: 'other' });
  const policy = traceMessage({ family: 10, attrs: [attr(4, be32(1)), attr(16, be32(0))] });
  expect(parseTraceDatagram(policy)[0]).toMatchObject({ family: 'ip6', verdict: 'drop', policy: true });
});

test('the fingerprint survives NAT (addresses, ports, TTL) but not another packet', () => {
  const a = ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1234, 9999);
  const natted = ipv4Udp([192, 168, 0, 1], [172, 16, 0, 9], 40000, 53);
  natted.writeUInt8(63, 8); // forwarded: TTL decremented
  expect(fingerprintFromNetwork(natted)).toBe(fingerprintFromNetwork(a));
  const other = ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1234, 9999);
  other.writeUInt16BE(0x4243, 4);
  expect(fingerprintFromNetwork(other)).not.toBe(fingerprintFromNetwork(a));
  const eth = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x00]), a]);
  expect(fingerprintFromEthernet(eth)).toBe(fingerprintFromNetwork(a));
});

test('a trace and the capture of one packet agree: VLAN tags, IPv6 extension headers, ICMP', () => {
  const a = ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1234, 9999);
  const tag = (tpid: number): Buffer => Buffer.from([tpid >> 8, tpid & 0xff, 0, 5]);
  const qinq = Buffer.concat([Buffer.alloc(12), tag(0x9100), tag(0x8100), Buffer.from([0x08, 0x00]), a]);
  expect(fingerprintFromEthernet(qinq)).toBe(fingerprintFromNetwork(a));
  // The kernel copies 40 bytes of IPv6 header: the trace cannot tell what follows a hop-by-hop
  // header, so neither does the capture.
  const udp = Buffer.from([0x04, 0xd2, 0x27, 0x0f, 0, 12, 0, 0, 1, 2, 3, 4]);
  const hbh = Buffer.from([17, 0, 5, 2, 0, 0, 1, 0]);
  const v6 = Buffer.alloc(40);
  v6.writeUInt32BE(0x60012345, 0);
  v6.writeUInt16BE(hbh.length + udp.length, 4);
  v6.writeUInt8(0, 6);
  const frame = Buffer.concat([Buffer.alloc(12), Buffer.from([0x86, 0xdd]), v6, hbh, udp]);
  expect(fingerprintFromNetwork(v6, udp)).toBe(fingerprintFromEthernet(frame));
  expect(fingerprintFromEthernet(frame)).toBe(`6/${0x12345}/20/0|`);
  // ICMP echo: type, code and sequence, not the id (NAT rewrites it like a port).
  const ping = (id: number): Buffer => {
    const p = Buffer.from('4500001c0001000040010000', 'hex');
    return Buffer.concat([p, Buffer.from([10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0, 0, id, 0, 0, 7])]);
  };
  expect(fingerprintFromNetwork(ping(1))).toBe('4/1/28/1/0|8/0/7');
  expect(fingerprintFromNetwork(ping(1).subarray(0, 20), ping(9).subarray(20))).toBe(fingerprintFromNetwork(ping(1)));
});

describe('matching traces to followed packets', () => {
  const fp = fingerprintFromNetwork(ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2)) as string;
  const pkt = ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
  const tracking = (n: number) => ({ orig_head: BigInt(n), timestamp: 1n, skb: BigInt(n) });
  const trace = (over: Partial<NftTrace>): NftTrace => ({
    family: 'ip',
    table: 't',
    chain: 'c',
    verdict: 'drop',
    policy: false,
    id: 1,
    ...over,
  });
  const setup = (verdicts = 'drop,accept', emitUnmatched = true) => {
    const out: Event[] = [];
    const m = new NftMatcher({ verdicts: parseVerdicts(verdicts), emitUnmatched, emit: (e) => out.push(e) });
    return { m, out };
  };

  test('the packet event just before the trace, in the same namespace, gives the series', () => {
    const { m, out } = setup();
    m.notePacket({ ts: 100n, cpu: 0, netns: 5, tracking: tracking(1), fingerprint: fp });
    m.notePacket({ ts: 150n, cpu: 0, netns: 6, tracking: tracking(2), fingerprint: fp });
    m.addTrace(trace({ network: pkt.subarray(0, 20), transport: pkt.subarray(20) }), 200n, 0, 5);
    expect(out).toHaveLength(1);
    expect(out[0]?.['skb-tracking']).toEqual(tracking(1));
    expect(out[0]?.common?.timestamp).toBe(200n);
  });

  test('a trace before any event of its packet waits for the first one after it', () => {
    const { m, out } = setup();
    m.addTrace(trace({ network: pkt.subarray(0, 20), transport: pkt.subarray(20) }), 100n, 0, 5);
    expect(out).toHaveLength(0);
    m.notePacket({ ts: 120n, cpu: 0, netns: 5, tracking: tracking(3), fingerprint: fp });
    expect(out[0]?.['skb-tracking']).toEqual(tracking(3));
  });

  test('later messages of one pass inherit the headers of the first; --nft-verdicts filters', () => {
    const { m, out } = setup('drop');
    m.notePacket({ ts: 100n, cpu: 0, netns: 5, tracking: tracking(4), fingerprint: fp });
    m.addTrace(
      trace({ verdict: 'continue', id: 9, network: pkt.subarray(0, 20), transport: pkt.subarray(20) }),
      110n,
      0,
      5,
    );
    m.addTrace(trace({ verdict: 'drop', id: 9 }), 120n, 0, 5);
    expect(out.map((e) => e.nft?.verdict)).toEqual(['drop']);
    expect(out[0]?.['skb-tracking']).toEqual(tracking(4));
    expect(m.stats.filtered).toBe(1);
  });

  test('unmatched traces: kept without tracking, or left out when a filter chose the packets', () => {
    const a = setup();
    a.m.addTrace(trace({ network: pkt.subarray(0, 20) }), 100n, 0, 5);
    a.m.notePacket({ ts: 100n + 2n * MATCH_WINDOW_NS, cpu: 0, netns: 9, tracking: tracking(5), fingerprint: 'x' });
    a.m.expire();
    expect(a.out).toHaveLength(1);
    expect(a.out[0]?.['skb-tracking']).toBeUndefined();
    const b = setup('drop,accept', false);
    b.m.addTrace(trace({ network: pkt.subarray(0, 20) }), 100n, 0, 5);
    b.m.expire(true);
    expect(b.out).toHaveLength(0);
    expect(b.m.stats.unmatched).toBe(1);
  });

  test("retrace's own nftrace table is never reported", () => {
    const { m, out } = setup('all');
    m.addTrace(trace({ table: 'retrace_nftrace_42', verdict: 'accept', policy: true }), 1n, 0, 5);
    expect(out).toHaveLength(0);
  });
});
