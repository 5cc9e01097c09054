// `retrace sort` joins ovs-detrace answers (--ovs-enrich-flows) to the flow_lookup events of the
// same flow, as retis's sort does, and their text shows the datapath flow and OpenFlow rules.
import { EventSorter, formatEvent, formatSeries, parseEvent, stringifyEvent, type Event } from '../src/index.js';

const UFID = [0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00];
const FLOW = 0xffff888004a1b000n;
const ACTS = 0xffff888004a1c000n;
const DPFLOW = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:98, used:0.004s, actions:3';
const RULES = ['cookie=0x0, table=0, priority=10, ip actions=ct(table=1)', 'table=1, priority=0, actions=NORMAL'];

const st = { timestamp: 1000n, orig_head: 0xaaa0n, skb: 0xbbb0n };

function lookup(ts: bigint, flow = FLOW): Event {
  return {
    common: { timestamp: ts },
    kernel: { symbol: 'ovs_flow_tbl_lookup_stats', probe_type: 'kretprobe' },
    'skb-tracking': st,
    ovs: { event_type: 'flow_lookup', ufid: UFID, flow, sf_acts: ACTS, n_mask_hit: 1, n_cache_hit: 0 },
  };
}

function detrace(ts: bigint, ofpflows = RULES): Event {
  return {
    common: { timestamp: ts },
    'ovs-detrace': { ufid: UFID, flow: FLOW, sf_acts: ACTS, dpflow: DPFLOW, ofpflows },
  };
}

const receive: Event = {
  common: { timestamp: 1000n },
  kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
  'skb-tracking': st,
};

function sortAll(events: Event[]): Event[][] {
  const sorter = new EventSorter();
  const out: Event[][] = [];
  for (const ev of events) out.push(...sorter.push(ev));
  out.push(...sorter.flush());
  return out;
}

const lookupsOf = (series: Event[][]): Event[] => series.flat().filter((e) => e.ovs?.event_type === 'flow_lookup');

test('an answer that comes after the lookup (the usual order) is joined to it; the answer stays as its own event', () => {
  const input = [receive, lookup(1100n), detrace(1500n)];
  const out = sortAll(input);
  const [l] = lookupsOf(out);
  expect(l?.ovs?.dpflow).toBe(DPFLOW);
  expect(l?.ovs?.ofpflows).toEqual(RULES);
  expect(l?.tracking?.idx).toBe(1);
  // retis keeps the ovs-detrace event too (an untracked event of its own).
  expect(out.filter((s) => s.length === 1 && s[0]?.['ovs-detrace'])).toHaveLength(1);
  // The events read are left as they were.
  expect(input[1]?.ovs?.dpflow).toBeUndefined();
});

test('an answer read before the lookup is joined too, and every lookup of that flow gets it', () => {
  const out = sortAll([detrace(900n), receive, lookup(1100n), lookup(1200n)]);
  const lookups = lookupsOf(out);
  expect(lookups).toHaveLength(2);
  for (const l of lookups) expect(l.ovs?.dpflow).toBe(DPFLOW);
});

test('a lookup of another flow with the same ufid (a new sw_flow) is left alone', () => {
  const out = sortAll([receive, lookup(1100n, FLOW + 0x1000n), detrace(1500n)]);
  const [l] = lookupsOf(out);
  expect(l?.ovs?.dpflow).toBeUndefined();
  expect(l?.ovs?.ofpflows).toBeUndefined();
});

test('the sorted file carries dpflow and ofpflows in the flow_lookup, in retis field names, and reads back', () => {
  const [l] = lookupsOf(sortAll([receive, lookup(1100n), detrace(1500n)]));
  if (!l) throw new Error('no lookup');
  const json = stringifyEvent(l);
  const ovs = (JSON.parse(json) as { ovs: Record<string, unknown> }).ovs;
  expect(ovs['event_type']).toBe('flow_lookup');
  expect(ovs['dpflow']).toBe(DPFLOW);
  expect(ovs['ofpflows']).toEqual(RULES);
  expect(parseEvent(json).ovs?.ofpflows).toEqual(RULES);
});

test('an enriched flow_lookup prints its datapath flow and OpenFlow rules after the lookup line', () => {
  const out = sortAll([receive, lookup(1100n), detrace(1500n)]);
  const series = out.find((s) => s.length === 2);
  if (!series) throw new Error('no series');
  const text = formatSeries(series);
  expect(text).toContain(
    [
      '      ufid 11223344-5566-7788-99aa-bbccddeeff00 hit (mask/cache) 1/0 flow ffff888004a1b000 sf_acts ffff888004a1c000',
      `        dpflow ${DPFLOW}`,
      '        ofpflows',
      `          ${RULES[0]}`,
      `          ${RULES[1]}`,
    ].join('\n'),
  );
  const [l] = lookupsOf(out);
  if (!l) throw new Error('no lookup');
  expect(formatEvent(l, { format: 'single-line' })).toContain(
    `sf_acts ffff888004a1c000 dpflow ${DPFLOW} ofpflows [${RULES[0]}; ${RULES[1]}]`,
  );
});

test('without OpenFlow rules (ovs-vswitchd older than 3.4) only the datapath flow is printed', () => {
  const [l] = lookupsOf(sortAll([receive, lookup(1100n), detrace(1500n, [])]));
  if (!l) throw new Error('no lookup');
  const text = formatEvent(l);
  expect(text).toContain(`\n    dpflow ${DPFLOW}`);
  expect(text).not.toContain('ofpflows');
});

test('an ovs-detrace event prints the flow it is about, then what ovs-vswitchd said, never [object Object]', () => {
  const ev = parseEvent(
    '{"common":{"timestamp":1},"ovs-detrace":{"ufid":[1,2,3,4],"flow":5,"sf_acts":6,"dpflow":"in_port(2),eth(),ipv4()","ofpflows":["table=0 priority=0 actions=NORMAL"]}}',
  );
  expect(formatEvent(ev)).toBe(
    [
      '1',
      '  ovs-detrace ufid 00000001-0000-0002-0000-000300000004 flow 5 sf_acts 6',
      '    dpflow in_port(2),eth(),ipv4()',
      '    ofpflows',
      '      table=0 priority=0 actions=NORMAL',
    ].join('\n'),
  );
  expect(formatEvent(ev, { format: 'single-line' })).toBe(
    '1 ovs-detrace ufid 00000001-0000-0002-0000-000300000004 flow 5 sf_acts 6 dpflow in_port(2),eth(),ipv4() ofpflows [table=0 priority=0 actions=NORMAL]',
  );
});
