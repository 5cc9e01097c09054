// OVS and nft lines as retis prints them (retis-events ovs.rs and nft.rs, and the ovs events of
// retis's test_events_packets.json); what only retrace records comes after.
import { formatEvent, parseEvent, stringifyEvent, type Event } from '../src/index.js';
import { readEvents } from './helpers/fixtures.js';

const line = (ev: Event): string | undefined => formatEvent(ev).split('\n')[ev.packet ? 3 : 1];
const ovs = (o: object): Event => ({ common: { timestamp: 1n }, ovs: o }) as Event;

test("retis's own OVS events print as retis prints them", () => {
  const lines = readEvents('test_events_packets.jsonl')
    .filter((e) => e.ovs)
    .map((e) => formatEvent(e).split('\n').at(-1));
  expect(lines).toEqual([
    '  upcall (miss) port 3319069055 cpu 6',
    '  upcall_ret (6/30419169098548) ret 0',
    '  exec oport 4',
  ]);
});

// The JSON of each case is the one retis's own ovs.rs tests read and write.
test.each([
  ['{"cmd":1,"cpu":0,"event_type":"upcall","port":4195744766}', 'upcall (miss) port 4195744766 cpu 0'],
  [
    '{"action":"output","event_type":"action_execute","port":2,"queue_id":1361394472,"recirc_id":0}',
    'exec oport 2 q 1361394472',
  ],
  [
    '{"cmd":1,"event_type":"upcall_enqueue","queue_id":3316322986,"ret":0,"upcall_cpu":0,"port":4195744766,"upcall_ts":61096236973661}',
    'upcall_enqueue (miss) (0/61096236973661) q 3316322986 ret 0',
  ],
  [
    '{"batch_idx":0,"batch_ts":61096237019698,"event_type":"flow_operation","op_type":"put","queue_id":3316322986}',
    'flow_put q 3316322986 ts 61096237019698 (0)',
  ],
  [
    '{"action":"ct","event_type":"action_execute","flags":485,"nat":{"dir":"dst","max_addr":"10.244.1.30","max_port":36900,"min_addr":"10.244.1.3","min_port":36895},"recirc_id":34,"zone_id":20}',
    '[recirc_id 0x22] exec ct zone 20 nat(dst=10.244.1.3-10.244.1.30:36895-36900) commit',
  ],
  ['{"action":"drop","event_type":"action_execute","reason":0,"recirc_id":32}', '[recirc_id 0x20] exec drop 0'],
  ['{"action":"recirc","event_type":"action_execute","id":7,"recirc_id":0}', 'exec recirc 0x7'],
  ['{"action":"set_masked","event_type":"action_execute","recirc_id":0}', 'exec set_masked'],
  [
    '{"event_type":"flow_lookup","flow":18446619372617628672,"sf_acts":18446619372617628928,"ufid":[1,131074,196612,5],"n_mask_hit":1,"n_cache_hit":2}',
    'ufid 00000001-0002-0002-0003-000400000005 hit (mask/cache) 1/2 flow ffff8e95c3b67c00 sf_acts ffff8e95c3b67d00',
  ],
])('%s', (json, text) => {
  const ev = parseEvent(`{"common":{"timestamp":1},"ovs":${json}}`);
  expect(line(ev)).toBe(`  ${text}`);
  expect(JSON.parse(stringifyEvent(ev))).toEqual({ common: { timestamp: 1 }, ovs: JSON.parse(json) });
});

test("retrace's own OVS fields follow retis's text", () => {
  expect(
    line(
      ovs({ event_type: 'action_execute', action: 'output', port: 3, recirc_id: 0, in_port: 2, dp_name: 'ovs-system' }),
    ),
  ).toBe('  exec oport 3 in_port 2 dp ovs-system');
});

test('nft: handles in parentheses, the verdict, policy and target chain as retis prints them', () => {
  const nft = (n: object): Event => ({ common: { timestamp: 1n }, nft: n }) as Event;
  expect(
    line(
      nft({
        table_name: 'filter',
        chain_name: 'input',
        verdict: 'jump',
        verdict_chain_name: 'other',
        table_handle: 1n,
        chain_handle: 2n,
        rule_handle: 5n,
        policy: false,
      }),
    ),
  ).toBe('  table filter (1) chain input (2) handle 5 jump chain other');
  expect(
    line(
      nft({
        table_name: 'filter',
        chain_name: 'input',
        verdict: 'drop',
        table_handle: 1n,
        chain_handle: 2n,
        policy: true,
      }),
    ),
  ).toBe('  table filter (1) chain input (2) drop (policy)');
  // Netlink mode has no handles; the family is retrace's.
  expect(line(nft({ table_name: 'f', chain_name: 'c', verdict: 'accept', policy: false, family: 'inet' }))).toBe(
    '  table f chain c accept family inet',
  );
});
