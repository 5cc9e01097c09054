import { readdirSync, readFileSync } from 'node:fs';
import { COLLECTORS, chooseCollectors, collectorProbes, CollectorError, withNeeds } from '@retrace/agent';
import { COLLECTOR_NAMES } from '@retrace/spec';

test('auto starts every collector that can run and says why the others did not', () => {
  const c = chooseCollectors(['auto']);
  // This kernel has conntrack and nf_tables built in (nf_conn, nft_pktinfo in vmlinux BTF).
  expect([...c.enabled].sort()).toEqual(['ct', 'dev', 'nft', 'ns', 'skb', 'skb-drop', 'skb-tracking']);
  expect(c.skipped.map((s) => s.name).sort()).toEqual(['ovs']);
  expect(chooseCollectors([]).enabled.size).toBe(7);
  // auto may apply a stricter check than naming a collector does (nft: only when it can trace).
  const strict = Object.assign((_: string) => undefined, {
    auto: (n: string) => (n === 'nft' ? 'no rule sets nftrace' : undefined),
  });
  expect(chooseCollectors(['auto'], strict).skipped).toEqual([{ name: 'nft', reason: 'no rule sets nftrace' }]);
  expect(chooseCollectors(['nft'], strict).enabled.has('nft')).toBe(true);
  const noCt = chooseCollectors(['auto'], (n) => (n === 'ct' ? 'no conntrack' : undefined));
  expect(noCt.enabled.has('ct')).toBe(false);
  expect(noCt.skipped).toEqual([{ name: 'ct', reason: 'no conntrack' }]);
});

test('named collectors run alone, mixed with auto, comma lists or repeated flags', () => {
  expect([...chooseCollectors(['skb,dev']).enabled]).toEqual(['skb', 'dev']);
  expect([...chooseCollectors(['skb', 'ns']).enabled]).toEqual(['skb', 'ns']);
  expect(chooseCollectors(['skb,auto']).enabled.size).toBe(7);
});

test('unknown and unavailable collectors are errors that name them', () => {
  expect(() => chooseCollectors(['skb,bogus'])).toThrow(CollectorError);
  expect(() => chooseCollectors(['bogus'])).toThrow(/unknown collector 'bogus'; known: auto, skb-tracking/);
  expect(() => chooseCollectors(['ovs'])).toThrow(/collector 'ovs' cannot run/);
  expect(() => chooseCollectors(['ct'], () => 'this kernel has no connection tracking')).toThrow(
    /collector 'ct' cannot run: this kernel has no connection tracking/,
  );
});

test('skb-drop adds kfree_skb with events; tracking adds freeing points silently', () => {
  expect(collectorProbes(new Set(['skb-drop']))).toEqual([{ spec: 'tp:skb:kfree_skb', silent: false }]);
  expect(collectorProbes(new Set(['skb-tracking']))).toEqual([
    { spec: 'tp:skb:kfree_skb', silent: true },
    { spec: 'tp:skb:consume_skb', silent: true },
    { spec: 'tp:skb:skb_copy_datagram_iovec', silent: true },
  ]);
});

test('a collector brings the collectors it needs (nft matches verdicts to followed packets by their bytes)', () => {
  expect([...withNeeds(new Set(['nft']))]).toEqual(['skb-tracking', 'skb', 'ns', 'nft']);
  expect([...withNeeds(new Set(['dev']))]).toEqual(['dev']);
});

test('the session drives collectors only through their interface: it names none and imports none', () => {
  const dir = new URL('../src/session/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const name of COLLECTORS) {
      expect([file, text.includes(`'${name}'`)]).toEqual([file, false]);
      expect([file, text.includes(`collectors/${name}/`)]).toEqual([file, false]);
    }
  }
});

test('the agent runs exactly the collectors a trace may name (@retrace/spec, the CRDs)', () => {
  expect([...COLLECTORS].sort()).toEqual([...COLLECTOR_NAMES].sort());
});
