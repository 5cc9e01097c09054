// Files of older retis versions: 1.5's nested skb (dev, ns, packet, eth/ip/tcp... inside `skb`)
// and the oldest flat skb read, print like current events, and give pcap header bytes that
// tshark decodes to the same fields.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PcapngWriter,
  formatEvent,
  legacyPacket,
  parseEvent,
  parsePacket,
  stringifyEvent,
  type Event,
} from '../src/index.js';
import { readCapture } from '../src/capture-reader.js';
import { FIXTURES, readEvents } from './helpers/fixtures.js';
import { tsharkFields } from './helpers/tshark.js';
const dir = mkdtempSync(join(tmpdir(), 'rt-legacy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real SYN (AccECN handshake from tcpdump's test suite), Ethernet header included.
const syn = readCapture(readFileSync(join(FIXTURES, 'pcap', 'accecn_handshake.pcap')))[0];
if (!syn) throw new Error('accecn_handshake.pcap has no packet');
const synB64 = syn.data.toString('base64');

const head = {
  common: { timestamp: 23868643385999, smp_id: 1, task: { comm: 'curl', pid: 10, tgid: 10 } },
  kernel: { probe_type: 'raw_tracepoint', symbol: 'net:netif_receive_skb' },
};
const meta = { len: 74, data_len: 0, hash: 0, ip_summed: 0, csum: 0, csum_level: 0, priority: 0 };
const dataRef = { nohdr: false, cloned: false, fclone: 0, users: 1, dataref: 1 };

/** retis 1.5's layout of an event, as its skb collector nested it. */
const v15 = {
  ...head,
  skb: {
    dev: { name: 'eth0', ifindex: 2, rx_ifindex: 2 },
    ns: { netns: 4026531840 },
    meta,
    data_ref: dataRef,
    packet: { len: syn.len, capture_len: syn.caplen, packet: synB64 },
  },
};
/** The same event as retrace and retis ≥ 1.6 write it. */
const current = {
  ...head,
  packet: { len: syn.len, capture_len: syn.caplen, data: synB64 },
  dev: { name: 'eth0', ifindex: 2, rx_ifindex: 2 },
  netns: { inum: 4026531840 },
  skb: { meta, data_ref: dataRef },
};

test('retis 1.5 nested skb: dev, ns and the raw packet read into their sections, printed as today', () => {
  const old = parseEvent(JSON.stringify(v15));
  const now = parseEvent(JSON.stringify(current));
  expect(old.packet).toEqual(now.packet);
  expect(old.dev).toEqual(now.dev);
  expect(old.netns).toEqual(now.netns);
  for (const format of ['multi-line', 'single-line'] as const)
    expect(formatEvent(old, { format, link: true })).toBe(formatEvent(now, { format, link: true }));
  const lines = formatEvent(old).split('\n');
  expect(lines[1]).toContain('31.133.146.248.16433 > 66.228.43.12.80');
  expect(lines[2]).toBe('  ns 4026531840 if 2 (eth0) rxif 2');
  // Written back, it is today's layout.
  expect(JSON.parse(stringifyEvent(old))).toEqual(JSON.parse(stringifyEvent(now)));
});

test('retis 1.5 `raw` spelling of the packet bytes reads too; sections the event has are kept', () => {
  const ev = parseEvent(
    JSON.stringify({
      ...head,
      dev: { name: 'lo', ifindex: 1 },
      skb: { dev: { name: 'eth0', ifindex: 2 }, packet: { len: syn.len, capture_len: syn.caplen, raw: synB64 } },
    }),
  );
  expect(ev.packet?.data).toBe(synB64);
  expect(ev.dev?.name).toBe('lo');
});

/** 1.5 header fields without raw bytes (the `packet` skb section not asked for). */
const headersOnly = {
  ...head,
  skb: {
    eth: { etype: 2048, src: '00:11:22:33:44:55', dst: '66:77:88:99:aa:bb' },
    ip: {
      saddr: '10.0.0.1',
      daddr: '10.0.0.2',
      v4: { tos: 0, id: 7, flags: 2, offset: 0 },
      protocol: 6,
      len: 60,
      ttl: 64,
      ecn: 0,
    },
    tcp: { sport: 34567, dport: 80, seq: 1, ack_seq: 0, window: 64240, doff: 10, flags: 2 },
    meta,
  },
};

test('retis 1.5 header fields print as the packet line of a current event', () => {
  const ev = parseEvent(JSON.stringify(headersOnly));
  const lines = formatEvent(ev, { link: true }).split('\n');
  expect(lines[1]).toBe(
    '  00:11:22:33:44:55 > 66:77:88:99:aa:bb ethertype IPv4 (0x0800) 10.0.0.1.34567 > 10.0.0.2.80 tos 0x0 ttl 64 id 7 off 0 [DF] len 60 proto TCP (6) flags [S] seq 1 win 64240 options len 20',
  );
  expect(lines[2]).toMatch(/^ {2}skb \[csum none .*len 74/);
});

test('header bytes rebuilt from 1.5 fields parse back to the same fields', () => {
  const p = legacyPacket(headersOnly.skb);
  if (!p) throw new Error('no packet');
  expect(p.len).toBe(74);
  expect(p.data.length).toBe(14 + 20 + 40);
  const parsed = parsePacket(p.data);
  expect(parsed.ip).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 64, id: 7, df: true, totalLen: 60 });
  expect(parsed.l4).toMatchObject({ proto: 'tcp', sport: 34567, dport: 80, seq: 1, flags: 2, window: 64240 });
});

test('an IPv6 and an ARP event of 1.5 rebuild to the addresses they name', () => {
  const v6 = legacyPacket({
    ip: {
      saddr: 'fe80::1',
      daddr: '2001:db8::10.0.0.1',
      v6: { flow_label: 0x12345 },
      protocol: 17,
      len: 16,
      ttl: 255,
      ecn: 0,
    },
    udp: { sport: 546, dport: 547, len: 16 },
  });
  const p6 = parsePacket(v6?.data ?? Buffer.alloc(0));
  expect(p6.ip).toMatchObject({ version: 6, src: 'fe80::1', dst: '2001:db8::a00:1', flowLabel: 0x12345, ttl: 255 });
  expect(p6.l4).toMatchObject({ proto: 'udp', sport: 546, dport: 547, length: 16 });
  const arp = legacyPacket({
    eth: { etype: 0x0806, src: '00:11:22:33:44:55', dst: 'ff:ff:ff:ff:ff:ff' },
    arp: { operation: 'Request', sha: '00:11:22:33:44:55', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' },
  });
  expect(parsePacket(arp?.data ?? Buffer.alloc(0)).arp).toMatchObject({
    op: 1,
    senderIp: '10.0.0.1',
    targetIp: '10.0.0.2',
  });
});

/** tshark's fields of every packet of a capture; undefined when tshark is not installed. */
const tshark = (file: string, fields: string[]): string[][] | undefined =>
  tsharkFields(file, fields, ['-o', 'ip.check_checksum:TRUE']);

test('the flat skb of old retis files exports as header bytes tshark decodes to its fields', () => {
  const events = readEvents('test_events.jsonl').filter((e) => e.kernel);
  const w = new PcapngWriter();
  const flat: Record<string, unknown>[] = [];
  for (const ev of events) {
    const p = legacyPacket(ev.skb);
    if (!p) throw new Error(`no packet for ${ev.kernel?.symbol}`);
    w.add({ iface: 'x', timestampNs: 0n, data: p.data, origLen: p.len });
    flat.push(ev.skb as unknown as Record<string, unknown>);
  }
  expect(flat).toHaveLength(4);
  const file = join(dir, 'flat.pcapng');
  writeFileSync(file, w.toBuffer());
  const rows = tshark(file, [
    'eth.src',
    'ip.src',
    'ip.dst',
    'ip.len',
    'ip.checksum.status',
    'tcp.srcport',
    'tcp.seq_raw',
    'tcp.ack_raw',
    'icmp.type',
  ]);
  // Our own parser when tshark is not installed.
  const expected = flat.map((s) => [
    String(s['src']),
    String(s['saddr']),
    String(s['daddr']),
    String(s['l3_len']),
    s['sport'] === undefined ? '' : String(s['sport']),
    s['tcp_seq'] === undefined ? '' : String(s['tcp_seq']),
    s['tcp_ack_seq'] === undefined ? '' : String(s['tcp_ack_seq']),
    s['icmp_type'] === undefined ? '' : String(s['icmp_type']),
  ]);
  if (rows) {
    expect(rows.map((r) => [...r.slice(0, 4), ...r.slice(5)])).toEqual(expected);
    expect(rows.map((r) => r[4])).toEqual(['1', '1', '1', '1']); // IPv4 header checksums good
  }
  const ours = flat.map((s) => {
    const p = parsePacket(legacyPacket(s)?.data ?? Buffer.alloc(0));
    const l4 = p.l4;
    return [
      p.eth?.src,
      p.ip?.src,
      p.ip?.dst,
      p.ip?.version === 4 ? String(p.ip.totalLen) : '',
      l4?.proto === 'tcp' ? String(l4.sport) : '',
      l4?.proto === 'tcp' ? String(l4.seq) : '',
      l4?.proto === 'tcp' ? String(l4.ack) : '',
      l4?.proto === 'icmp' ? String(l4.type) : '',
    ];
  });
  expect(ours).toEqual(expected);
});

test('events of the current layout give no rebuilt packet (their bytes are the packet)', () => {
  expect(legacyPacket(parseEvent(JSON.stringify(current)).skb)).toBeUndefined();
  expect(legacyPacket(undefined)).toBeUndefined();
  const noHeaders: Event = parseEvent(JSON.stringify({ ...head, skb: { meta } }));
  expect(legacyPacket(noHeaders.skb)).toBeUndefined();
});
