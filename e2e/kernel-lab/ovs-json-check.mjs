#!/usr/bin/env node
// Checks of the OVS lab scenarios over a retrace JSON file (one event per line), each exiting
// non-zero with what it found when the file does not show what the scenario must produce.
//   ovs-json-check.mjs lookup FILE FLOWS   a flow_lookup names a flow dpctl/dump-flows -m listed
//   ovs-json-check.mjs ct FILE             the ct action's zone, commit, NAT; the recirc id
//   ovs-json-check.mjs gso FILE            one upcall enqueued as several segments
//   ovs-json-check.mjs detrace FILE        ovs-detrace events for the flows looked up
//   ovs-json-check.mjs sorted FILE         `retrace sort -o` output: lookups joined to their ovs-detrace
import { readFileSync } from 'node:fs';

const [what, file, extra] = process.argv.slice(2);
const events = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .flatMap((l) => [JSON.parse(l)].flat()); // a sorted file has a series (an array) a line
const ovs = (type) => events.filter((e) => e.ovs?.event_type === type);
const hex = (v, n) => v.toString(16).padStart(n, '0');
const uuid = (w) =>
  `${hex(w[0], 8)}-${hex(w[1] >>> 16, 4)}-${hex(w[1] & 0xffff, 4)}-${hex(w[2] >>> 16, 4)}-${hex(w[2] & 0xffff, 4)}${hex(w[3], 8)}`;
const fail = (msg) => {
  console.error(msg);
  process.exit(1);
};

if (what === 'lookup') {
  const lookups = ovs('flow_lookup');
  if (!lookups.length) {
    // What came instead, to tell a missing probe from missing traffic.
    const kinds = {};
    for (const e of events) {
      const k = `${e.kernel?.symbol ?? e.userspace?.symbol ?? 'startup'}${e.ovs ? `/${e.ovs.event_type}` : ''}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    fail(`no flow_lookup among ${events.length} events: ${JSON.stringify(kinds)}`);
  }
  const flows = readFileSync(extra, 'utf8');
  const known = lookups.filter((e) => flows.includes(`ufid:${uuid(e.ovs.ufid)}`));
  if (!known.length) fail(`no flow_lookup ufid in dump-flows: ${lookups.map((e) => uuid(e.ovs.ufid)).join(' ')}`);
  const e = known[0];
  if (!(e.ovs.n_mask_hit >= 1) || typeof e.ovs.flow !== 'number' || !e.ovs.flow || !e.ovs.sf_acts)
    fail(`flow_lookup without its counters or pointers: ${JSON.stringify(e.ovs)}`);
  if (!e['skb-tracking']) fail('flow_lookup without the packet it looked up');
  console.log(`flow_lookup ufid ${uuid(e.ovs.ufid)} mask hits ${e.ovs.n_mask_hit} cache hits ${e.ovs.n_cache_hit}`);
} else if (what === 'ct') {
  const ct = ovs('action_execute').filter((e) => e.ovs.action === 'ct');
  const commit = ct.find((e) => e.ovs.zone_id === 5 && e.ovs.flags & 1 && e.ovs.nat);
  if (!commit) fail(`no committing ct action in zone 5 with NAT: ${JSON.stringify(ct.map((e) => e.ovs))}`);
  const n = commit.ovs.nat;
  if (n.dir !== 'src' || n.min_addr !== '10.7.0.1' || n.max_addr !== '10.7.0.1' || !(commit.ovs.flags & 4))
    fail(`ct NAT details wrong: ${JSON.stringify(commit.ovs)}`);
  const recircs = ovs('action_execute').filter((e) => e.ovs.action === 'recirc' && e.ovs.id > 0);
  if (!recircs.length) fail('no recirc action with its id');
  const after = new Set(ovs('action_execute').map((e) => e.ovs.recirc_id));
  const recirc = recircs.find((r) => after.has(r.ovs.id));
  if (!recirc)
    fail(
      `no action after recirculation with the id a recirc action set (${recircs.map((r) => r.ovs.id)}; seen: ${[...after]})`,
    );
  console.log(`ct ${JSON.stringify(commit.ovs)}; recirc id ${recirc.ovs.id}`);
} else if (what === 'gso') {
  const byUpcall = new Map();
  for (const e of ovs('upcall_enqueue')) {
    const k = `${e.ovs.upcall_cpu}/${e.ovs.upcall_ts}`;
    byUpcall.set(k, [...(byUpcall.get(k) ?? []), e]);
  }
  const split = [...byUpcall.values()].find((l) => l.length >= 2);
  if (!split) fail(`no upcall enqueued in several parts: ${[...byUpcall.values()].map((l) => l.length).join(',')}`);
  const qids = new Set(split.map((e) => e.ovs.queue_id));
  const series = new Set(split.map((e) => `${e['skb-tracking']?.orig_head}/${e['skb-tracking']?.timestamp}`));
  const upcall = ovs('upcall').find((e) => e.common.timestamp === split[0].ovs.upcall_ts);
  if (qids.size !== split.length) fail(`segments share queue ids: ${[...qids].join(',')}`);
  if (series.size !== 1 || !upcall) fail(`segments not on the upcall's packet: ${[...series].join(' ')}`);
  if (`${upcall['skb-tracking'].orig_head}/${upcall['skb-tracking'].timestamp}` !== [...series][0])
    fail("enqueues are not in the upcall's series");
  if (!split.every((e) => e.ovs.ret === 0)) fail(`a segment failed: ${split.map((e) => e.ovs.ret).join(',')}`);
  console.log(`one upcall, ${split.length} segments enqueued, queue ids ${[...qids].join(',')}`);
} else if (what === 'detrace') {
  const lookups = ovs('flow_lookup');
  const detrace = events.filter((e) => e['ovs-detrace']);
  if (!detrace.length) fail(`no ovs-detrace among ${events.length} events (${lookups.length} flow_lookup)`);
  const d = detrace.find((e) => lookups.some((l) => uuid(l.ovs.ufid) === uuid(e['ovs-detrace'].ufid)));
  if (!d) fail('no ovs-detrace for a flow that was looked up');
  const x = d['ovs-detrace'];
  if (!/recirc_id\(\d+\),in_port\(\d+\)/.test(x.dpflow) || !x.dpflow.includes('actions:'))
    fail(`dpflow is not ovs-vswitchd's text of the flow: ${x.dpflow}`);
  const per = new Map();
  for (const e of detrace) per.set(uuid(e['ovs-detrace'].ufid), (per.get(uuid(e['ovs-detrace'].ufid)) ?? 0) + 1);
  if ([...per.values()].some((n) => n > 1)) fail('a flow was enriched twice (the cache should answer)');
  console.log(`ovs-detrace ${x.dpflow} ofpflows ${JSON.stringify(x.ofpflows ?? [])}`);
} else if (what === 'sorted') {
  const lookups = ovs('flow_lookup');
  const said = new Map(
    events.filter((e) => e['ovs-detrace']).map((e) => [uuid(e['ovs-detrace'].ufid), e['ovs-detrace']]),
  );
  const joined = lookups.filter((e) => e.ovs.dpflow !== undefined);
  if (!joined.length)
    fail(`no flow_lookup joined to its ovs-detrace (${lookups.length} lookups, ${said.size} answers)`);
  const wrong = joined.filter((e) => said.get(uuid(e.ovs.ufid))?.dpflow !== e.ovs.dpflow);
  if (wrong.length) fail(`a lookup got another flow's answer: ${uuid(wrong[0].ovs.ufid)} ${wrong[0].ovs.dpflow}`);
  const missed = lookups.filter((e) => e.ovs.dpflow === undefined && said.has(uuid(e.ovs.ufid)));
  if (missed.length) fail(`${missed.length} lookup(s) of an answered flow were not joined`);
  console.log(`sort joined ${joined.length} of ${lookups.length} flow_lookup(s) to ${said.size} ovs-detrace answer(s)`);
} else {
  fail(`unknown check ${what}`);
}
