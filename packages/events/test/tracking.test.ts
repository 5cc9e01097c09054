import { sameSeries, sameSkb, trackingId } from '../src/index.js';

test('tracking id: timestamp hex then 16 hex digits of orig_head, as retis prints it', () => {
  expect(trackingId({ timestamp: 23868955437572n, orig_head: 18446616575285769216n, skb: 0n })).toBe(
    '15b56c9c2a04ffff8c0a75bdb400',
  );
  expect(trackingId({ timestamp: 1n, orig_head: 0xabcn, skb: 0n })).toBe('10000000000000abc');
});

test('clones (same head, same first-seen time, other skb) are the same series, not the same skb', () => {
  const a = { timestamp: 5n, orig_head: 0xffff0000n, skb: 1n };
  const clone = { ...a, skb: 2n };
  expect(sameSeries(a, clone)).toBe(true);
  expect(sameSkb(a, clone)).toBe(false);
  expect(sameSkb(a, { ...a })).toBe(true);
  expect(sameSeries(a, { ...a, timestamp: 6n })).toBe(false);
  expect(sameSeries(a, { ...a, orig_head: 0xffff0001n })).toBe(false);
});
