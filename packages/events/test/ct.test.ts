// Conntrack in retis's layout: retis's own file reads, prints as retis prints it and is written
// back unchanged; retrace's former layout still reads.
import { readFileSync } from 'node:fs';
import { formatEvent, parseEvent, parseLine, stringifyEvent, type Ct, type Event } from '../src/index.js';
import { PcapngWriter } from '../src/pcapng.js';
import { fixturePath, readEvents } from './helpers/fixtures.js';

const FILE = 'test_events_packets.jsonl';
const events = readEvents(FILE);
const withCt = events.filter((e) => e.ct);

// What retis-events ct.rs writes for these two events.
const NEW =
  'ct_state NEW status 0x8 icmp orig [192.168.125.10 > 192.168.125.11 type 8 code 0 id 29004] ' +
  'reply [192.168.125.11 > 192.168.125.10 type 0 code 0 id 29004] zone 0 mark 0';
const REPLY =
  'ct_state REPLY status 0xa icmp orig [192.168.125.10 > 192.168.125.11 type 8 code 0 id 29004] ' +
  'reply [192.168.125.11 > 192.168.125.10 type 0 code 0 id 29004] zone 0 mark 0';

test("retis's ct sections read with their types and print as retis prints them", () => {
  expect(withCt).toHaveLength(2);
  const ct = withCt[0]?.ct as Ct;
  expect(ct.ct_status).toBe(8n);
  expect(ct.orig?.proto?.icmp).toEqual({ code: 0, type: 8, id: 29004 });
  expect(ct.orig?.ip).toEqual({ src: '192.168.125.10', dst: '192.168.125.11', version: 'v4' });
  const lines = (ev: Event): string[] => formatEvent(ev).split('\n');
  expect(lines(withCt[0] as Event)).toContain(`  ${NEW}`);
  expect(lines(withCt[1] as Event)).toContain(`  ${REPLY}`);
  expect(formatEvent(withCt[0] as Event, { format: 'single-line' })).toContain(` ${NEW}`);
  for (const ev of withCt) expect(formatEvent(ev)).not.toMatch(/object Object|\?/);
});

test("every line of retis's file is written back as retis wrote it", () => {
  for (const text of readFileSync(fixturePath(FILE), 'utf8').split('\n').filter(Boolean)) {
    const out = stringifyEvent(parseLine(text));
    expect(JSON.parse(out)).toEqual(JSON.parse(text));
    // Field for field, in retis's order.
    if (text.includes('"ct":')) expect(out).toContain(text.slice(text.indexOf('"ct":'), -1));
  }
});

test('pcap-ng packet comments carry the same ct text', () => {
  const ev = withCt[0] as Event;
  const w = new PcapngWriter();
  w.addEvent(ev, 'veth-ns01', 0n, formatEvent(ev));
  expect(w.toBuffer().includes(Buffer.from(NEW))).toBe(true);
});

const tuple = (src: string, dst: string, proto: object): object => ({ ip: { src, dst, version: 'v4' }, proto });

test('tcp state, zone direction, labels {hi, lo} and a parent print as retis prints them', () => {
  const ct: Ct = {
    state: 'related',
    zone_id: 5,
    zone_dir: 'Original',
    orig: tuple('10.0.0.1', '10.0.0.2', { tcp: { sport: 40000, dport: 21 } }),
    reply: tuple('10.0.0.2', '10.0.0.1', { tcp: { sport: 21, dport: 40000 } }),
    tcp_state: 'SYN_SENT',
    mark: 7,
    labels: { hi: 1n, lo: 0x10n },
    ct_status: 0x188n,
    parent: {
      zone_id: 0,
      zone_dir: 'Default',
      orig: tuple('10.0.0.1', '10.0.0.2', { udp: { sport: 5000, dport: 53 } }),
      reply: tuple('10.0.0.2', '10.0.0.1', { udp: { sport: 53, dport: 5000 } }),
      ct_status: 0xen,
    },
  } as Ct;
  const ev: Event = { common: { timestamp: 1n }, ct };
  const conn =
    'ct_state RELATED status 0x188 tcp (SYN_SENT) orig [10.0.0.1.40000 > 10.0.0.2.21] ' +
    'reply [10.0.0.2.21 > 10.0.0.1.40000] orig-zone 5 mark 7 labels 0x10000000000000010';
  const parent =
    'parent [status 0xe udp orig [10.0.0.1.5000 > 10.0.0.2.53] reply [10.0.0.2.53 > 10.0.0.1.5000] zone 0]';
  // Multi-line: the parent on a continuation line, as retis's formatter indents it.
  expect(formatEvent(ev)).toBe(['1', `  ${conn}`, `  \\ ${parent}`].join('\n'));
  expect(formatEvent(ev, { format: 'single-line' })).toBe(`1 ${conn} ${parent}`);
  // Labels are written as retis writes its U128.
  expect(stringifyEvent(ev)).toContain('"labels":{"hi":1,"lo":16}');
  expect(parseEvent(stringifyEvent(ev))).toEqual(ev);
});

test("retrace's former ct layout (flat tuples, proto_state, hex labels) reads into retis's", () => {
  const former =
    '{"common":{"timestamp":1},"ct":{"state":"established_reply","zone_id":0,"zone_dir":"default",' +
    '"orig":{"ip_src":"10.0.0.1","ip_dst":"10.0.0.2","proto":"tcp","sport":1,"dport":2,"ip_version":4},' +
    '"reply":{"ip_src":"10.0.0.2","ip_dst":"10.0.0.1","proto":"tcp","sport":2,"dport":1,"ip_version":4},' +
    '"proto_state":"ESTABLISHED","labels":"0x10000000000000002","ct_status":14}}';
  const ct = parseEvent(former).ct as Ct;
  expect(ct).toEqual({
    state: 'reply',
    zone_id: 0,
    zone_dir: 'Default',
    orig: tuple('10.0.0.1', '10.0.0.2', { tcp: { sport: 1, dport: 2 } }),
    reply: tuple('10.0.0.2', '10.0.0.1', { tcp: { sport: 2, dport: 1 } }),
    tcp_state: 'ESTABLISHED',
    labels: { hi: 1n, lo: 2n },
    ct_status: 14n,
  });
});

test('SCTP entries (retrace only) print in the same shape, with their verification tags', () => {
  const ev: Event = {
    common: { timestamp: 1n },
    ct: {
      state: 'new',
      zone_id: 0,
      zone_dir: 'Default',
      orig: tuple('10.0.0.1', '10.0.0.2', { sctp: { sport: 1, dport: 2, vtag: 0xab } }),
      reply: tuple('10.0.0.2', '10.0.0.1', { sctp: { sport: 2, dport: 1, vtag: 0xcd } }),
      sctp_state: 'COOKIE_WAIT',
      ct_status: 8n,
    } as Ct,
  };
  expect(formatEvent(ev)).toContain(
    'ct_state NEW status 0x8 sctp (COOKIE_WAIT) orig [10.0.0.1.1 > 10.0.0.2.2 vtag 0xab] reply [10.0.0.2.2 > 10.0.0.1.1 vtag 0xcd] zone 0',
  );
});

test("an entry retis's ct cannot hold is written under retrace-ct and read back as ct", () => {
  const sctp: Event = {
    common: { timestamp: 1n },
    ct: {
      state: 'new',
      orig: tuple('10.0.0.1', '10.0.0.2', { sctp: { sport: 1, dport: 2, vtag: 0xab } }),
      reply: tuple('10.0.0.2', '10.0.0.1', { sctp: { sport: 2, dport: 1, vtag: 0xcd } }),
    } as Ct,
  };
  const text = stringifyEvent(sctp);
  expect(Object.keys(JSON.parse(text) as object)).toEqual(['common', 'retrace-ct']);
  expect(parseEvent(text).ct).toEqual(sctp.ct);
  // A TCP entry whose parent is SCTP: the whole entry moves, its parent with it.
  const withParent: Event = { ct: { ...(withCt[0]?.ct as Ct), parent: sctp.ct } };
  expect(Object.keys(JSON.parse(stringifyEvent(withParent)) as object)).toEqual(['retrace-ct']);
  // What retis can hold stays under ct.
  expect(Object.keys(JSON.parse(stringifyEvent(withCt[0] as Event)) as object)).toContain('ct');
});
