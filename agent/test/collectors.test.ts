import { chooseCollectors, collectorProbes, CollectorError } from '@retrace/agent';

test('auto starts every collector that can run and says why the others did not', () => {
  const c = chooseCollectors(['auto']);
  expect([...c.enabled].sort()).toEqual(['dev', 'ns', 'skb', 'skb-drop', 'skb-tracking']);
  expect(c.skipped.map((s) => s.name).sort()).toEqual(['ct', 'nft', 'ovs']);
  expect(chooseCollectors([]).enabled.size).toBe(5);
});

test('named collectors run alone, mixed with auto, comma lists or repeated flags', () => {
  expect([...chooseCollectors(['skb,dev']).enabled]).toEqual(['skb', 'dev']);
  expect([...chooseCollectors(['skb', 'ns']).enabled]).toEqual(['skb', 'ns']);
  expect(chooseCollectors(['skb,auto']).enabled.size).toBe(5);
});

test('unknown and unavailable collectors are errors that name them', () => {
  expect(() => chooseCollectors(['skb,bogus'])).toThrow(CollectorError);
  expect(() => chooseCollectors(['bogus'])).toThrow(/unknown collector 'bogus'; known: auto, skb-tracking/);
  expect(() => chooseCollectors(['ct'])).toThrow(/collector 'ct' cannot run/);
});

test('skb-drop adds kfree_skb with events; tracking adds freeing points silently', () => {
  expect(collectorProbes(new Set(['skb-drop']))).toEqual([{ spec: 'tp:skb:kfree_skb', silent: false }]);
  expect(collectorProbes(new Set(['skb-tracking']))).toEqual([
    { spec: 'tp:skb:kfree_skb', silent: true },
    { spec: 'tp:skb:consume_skb', silent: true },
    { spec: 'tp:skb:skb_copy_datagram_iovec', silent: true },
  ]);
});
