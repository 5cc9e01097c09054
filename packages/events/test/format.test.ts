// The text users read: header line, section lines, single- vs multi-line, UTC, series.
import { formatEvent, formatHeader, formatSeries, type Event } from '../src/index.js';
import { buf, ether, icmpEcho, ipv4 } from './helpers/packet-builder.js';
import { RETIS_FILES, readEvents, readFixture } from './helpers/fixtures.js';

const events = readEvents('test_events.jsonl');
const at = (i: number): Event => {
  const ev = events[i];
  if (!ev) throw new Error(`fixture has no event ${i}`);
  return ev;
};
const OFFSET = { sec: 1742309146n, nsec: 691042000n }; // startup event of the fixture

const icmpBytes = buf(
  ether({ type: 0x0800 }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, id: 48734, df: true }, icmpEcho(8, 3, 1))),
);

const full: Event = {
  common: { timestamp: 1186296312925n, smp_id: 4, task: { pid: 15291, tgid: 15290, comm: 'ping' } },
  kernel: {
    symbol: 'net:net_dev_queue',
    probe_type: 'raw_tracepoint',
    stack_trace: ['dev_queue_xmit+0x1', 'ip_finish_output2+0x2'],
  },
  'skb-tracking': { orig_head: 0xffff8f9e3e6b5200n, timestamp: 1186296312925n, skb: 0xffff8f9e05f11800n },
  packet: { len: 42, capture_len: 42, data: icmpBytes.toString('base64') },
  netns: { cookie: 1n, inum: 4026531840 },
  dev: { name: 'eth0', ifindex: 3 },
  skb: {
    meta: {
      len: 84,
      data_len: 0,
      hash: 0x1234abcd,
      ip_summed: 3,
      csum: 0x100088,
      csum_level: 0,
      priority: 0,
      mark: 0x10,
    },
    data_ref: { nohdr: false, cloned: true, fclone: 2, users: 1, dataref: 2 },
    gso: { flags: 0, frags: 0, segs: 1, size: 1448, type: 1 },
    vlan_accel: { proto: 0x8100, pcp: 3, dei: false, vid: 100 },
  },
  nft: {
    table_name: 'filter',
    chain_name: 'output',
    verdict: 'accept',
    table_handle: 1n,
    chain_handle: 2n,
    rule_handle: 5n,
    policy: false,
  },
  ct: {
    state: 'new',
    zone_id: 0,
    zone_dir: 'Default',
    orig: { ip: { src: '10.0.0.1', dst: '10.0.0.2', version: 'v4' }, proto: { icmp: { type: 8, code: 0, id: 3 } } },
    reply: { ip: { src: '10.0.0.2', dst: '10.0.0.1', version: 'v4' }, proto: { icmp: { type: 0, code: 0, id: 3 } } },
    mark: 0,
    ct_status: 0x188n,
  },
};

const FULL_HEADER =
  '1186296312925 (4) [ping] 15291/15290 [tp] net:net_dev_queue #11434c5345dffff8f9e3e6b5200 (skb ffff8f9e05f11800)';
const FULL_SECTIONS = [
  '10.0.0.1 > 10.0.0.2 tos 0x0 ttl 64 id 48734 off 0 [DF] len 28 proto ICMP (1) type 8 code 0',
  'ns 0x1/4026531840 if 3 (eth0)',
  // retis's skb line: metadata, data/refcounts, GSO on one line (mark is retrace's own).
  'skb [csum partial (start 136 off 16) hash 0x1234abcd len 84 priority 0 mark 0x10 cloned fclone 2 users 1 dataref 2] gso [type 0x1 segs 1 size 1448]',
  'table filter (1) chain output (2) handle 5 accept',
  'ct_state NEW status 0x188 icmp orig [10.0.0.1 > 10.0.0.2 type 8 code 0 id 3] reply [10.0.0.2 > 10.0.0.1 type 0 code 0 id 3] zone 0 mark 0',
];

test('header line of a fixture drop event, exactly as retis prints it', () => {
  expect(formatHeader(at(4))).toBe(
    '23868955449721 (0) [napi/phy0-8197] 1360 [tp] skb:kfree_skb #15b56c9c2a04ffff8c0a75bdb400 (skb ffff8c0527c39200) drop (reason NO_SOCKET)',
  );
});

test('multi-line: stack indented 4, each section on its own line indented 2', () => {
  expect(formatEvent(full)).toBe(
    [FULL_HEADER, '    dev_queue_xmit+0x1', '    ip_finish_output2+0x2', ...FULL_SECTIONS.map((s) => `  ${s}`)].join(
      '\n',
    ),
  );
});

test('single-line: the same sections on one line', () => {
  expect(formatEvent(full, { format: 'single-line' })).toBe(
    [FULL_HEADER, 'stack [dev_queue_xmit+0x1, ip_finish_output2+0x2]', ...FULL_SECTIONS].join(' '),
  );
  expect(formatEvent(full, { format: 'single-line' })).not.toContain('\n');
});

test('-e adds the Ethernet header to the packet line', () => {
  expect(formatEvent(full, { link: true }).split('\n')[3]).toBe(
    '  02:00:00:00:00:01 > 02:00:00:00:00:02 ethertype IPv4 (0x0800) ' + FULL_SECTIONS[0],
  );
});

test('UTC time is the monotonic timestamp plus the startup clock offset', () => {
  expect(formatHeader(at(1), { utc: true, clockOffset: OFFSET })).toBe(
    '2025-03-18 21:23:35.334427 (0) [napi/phy0-8197] 1360 [k] tcp_v4_rcv #15b55a02a28fffff8c08d4fed800 (skb ffff8c03b1dc0500)',
  );
  // The startup event carries its own offset.
  expect(formatHeader(at(0), { utc: true })).toBe('2025-03-18 21:23:35.334427');
  // Without a startup event's offset, the monotonic timestamp, as retis prints it.
  expect(formatHeader(at(1), { utc: true })).toBe(formatHeader(at(1)));
});

test('probe kinds, pid/tgid and userspace probes in the header', () => {
  const base: Event = { common: { timestamp: 1n, task: { pid: 7, tgid: 7, comm: 'x' } } };
  const kinds = ['raw_tracepoint', 'kprobe', 'kretprobe', 'fentry', 'fexit'].map((probe_type) =>
    formatHeader({ ...base, kernel: { symbol: 'f', probe_type } }),
  );
  expect(kinds).toEqual(['1 [x] 7 [tp] f', '1 [x] 7 [k] f', '1 [x] 7 [kr] f', '1 [x] 7 [fe] f', '1 [x] 7 [fx] f']);
  expect(
    formatHeader({
      common: { timestamp: 2n, smp_id: 1, task: { pid: 101, tgid: 100, comm: 'ovs-vswitchd' } },
      userspace: {
        probe_type: 'usdt',
        symbol: 'dpif_recv:recv_upcall',
        ip: 0x55n,
        path: '/usr/sbin/ovs-vswitchd',
        pid: 100,
        tid: 101,
      },
    }),
  ).toBe('2 (1) [ovs-vswitchd] 101/100 [u] dpif_recv:recv_upcall (ovs-vswitchd)');
});

test('sorted events show n {idx}; lost and startup events have their own line', () => {
  const sorted = readFixture('test_events_sorted.jsonl')[2];
  expect(Array.isArray(sorted) && formatHeader(sorted[1] as Event)).toBe(
    '23868955276361 (3) [napi/phy0-8197] 1360 [kr] ovs_dp_upcall #15b56c998008ffff8c0aa653ba00 (skb ffff8c03aa978a00) n 1',
  );
  expect(formatEvent({ common: { timestamp: 9n }, lost: { probe: 'kprobe:tcp_v4_rcv', count: 12n } })).toBe(
    '9\n  lost 12 event(s) from kprobe:tcp_v4_rcv',
  );
  expect(
    formatEvent({
      common: { timestamp: 1n },
      startup: {
        retis_version: 'v1.6.0',
        retrace_version: '0.1.0',
        cmdline: 'retrace collect -p tp:skb:kfree_skb',
        machine: { kernel_release: '6.8.0', kernel_version: '#1 SMP', hardware_name: 'x86_64' },
      },
    }),
  ).toBe(
    '1\n  collected with Retis v1.6.0\n  on machine 6.8.0 #1 SMP x86_64\n  cmdline retrace collect -p tp:skb:kfree_skb\n  retrace 0.1.0',
  );
});

test('-e shows the accelerated VLAN tag first on the skb line, as retis does', () => {
  expect(formatEvent(full, { link: true }).split('\n')).toContain(
    '  vlan_accel (ethertype 802.1Q (0x8100) vlan 100 p 3) skb [csum partial (start 136 off 16) hash 0x1234abcd len 84 priority 0 mark 0x10 cloned fclone 2 users 1 dataref 2] gso [type 0x1 segs 1 size 1448]',
  );
  const dei: Event = { common: { timestamp: 1n }, skb: { vlan_accel: { proto: 0x88a8, pcp: 0, dei: true, vid: 7 } } };
  expect(formatEvent(dei, { link: true })).toBe('1\n  vlan_accel (ethertype 802.1Q QinQ (0x88a8) vlan 7 p 0 DEI)');
  expect(formatEvent(dei)).toBe('1');
});

test('old retis files: the flat skb section becomes packet, ns/if and skb lines', () => {
  expect(formatEvent(at(1), { link: true }).split('\n').slice(1)).toEqual([
    '  20:1e:88:1a:80:8d > 44:d4:53:63:09:87 ethertype IPv4 (0x0800) 35.186.224.18.443 > 192.168.0.136.39308 len 52 proto TCP (6) flags [.] seq 1230199517 ack 233042766 win 261',
    '  ns 4026531840 if 3 (wlp0s20f3) rxif 3',
    '  skb [cloned users 1 dataref 2]',
  ]);
  expect(formatEvent(at(2)).split('\n')[1]).toBe('  172.200.0.2 > 172.200.0.3 len 84 proto ICMP (1) type 8 code 0');
});

test('a series: follow-up events behind ↳, their lines indented to match', () => {
  const series = readFixture('test_events_sorted.jsonl')[2] as Event[];
  expect(formatSeries(series)).toBe(
    [
      '23868955262984 (2) [napi/phy0-8197] 1360 [tp] openvswitch:ovs_dp_upcall #15b56c998008ffff8c0aa653ba00 (skb ffff8c03aa978a00) n 0',
      '  upcall (miss) port 3366920467 cpu 1',
      '  ↳ 23868955276361 (3) [napi/phy0-8197] 1360 [kr] ovs_dp_upcall #15b56c998008ffff8c0aa653ba00 (skb ffff8c03aa978a00) n 1',
      '      upcall_ret (1/23868955262984) ret 0',
    ].join('\n'),
  );
  expect(formatSeries(series, { format: 'single-line' }).split('\n')).toHaveLength(2);
});

test('every event of the three retis fixtures prints, in both formats, with its symbol', () => {
  let printed = 0;
  for (const name of RETIS_FILES) {
    for (const line of readFixture(name)) {
      for (const ev of Array.isArray(line) ? line : [line]) {
        for (const format of ['multi-line', 'single-line'] as const) {
          const text = formatEvent(ev, { format, link: true, utc: true, clockOffset: OFFSET });
          expect(text).toContain(ev.kernel?.symbol ?? 'collected with Retis');
        }
        printed++;
      }
      if (Array.isArray(line)) expect(formatSeries(line)).toContain(line[0]?.kernel?.symbol ?? 'collected with Retis');
    }
  }
  expect(printed).toBe(15);
});

test('unknown sections, odd skb fields and a garbage packet do not break printing', () => {
  const odd = {
    common: { timestamp: 3n },
    kernel: { symbol: 'f', probe_type: 'mystery' },
    skb: { weird: { a: 1 }, users: 'many', dev_name: 7 },
    packet: { len: 3, capture_len: 3, data: '!!!not base64' },
    'future-section': { x: 1 },
  } as unknown as Event;
  expect(formatEvent(odd).split('\n')[0]).toBe('3 [mystery] f');
  expect(() => formatEvent(odd, { format: 'single-line', link: true })).not.toThrow();
});
