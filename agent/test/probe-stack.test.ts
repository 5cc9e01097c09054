// --probe-stack's choice of functions: each function of a stack proposed once, only those a
// collector can read, never one already probed; stacks kept only where asked.
import type { Event } from '@retrace/events';
import { ProbeStack, frameFunction } from '../src/session/probe-stack.js';

const event = (symbol: string, stack: string[]): Event => ({
  common: { timestamp: 1n },
  kernel: { symbol, probe_type: 'raw_tracepoint', stack_trace: stack },
});

test('a frame names its function; odd frames name none', () => {
  expect(frameFunction('ip_rcv+0x4c')).toBe('ip_rcv');
  expect(frameFunction('nf_hook_slow+0x41 [nf_tables]')).toBe('nf_hook_slow');
  expect(frameFunction('__netif_receive_skb_one_core.cold+0x1')).toBe('__netif_receive_skb_one_core.cold');
  expect(frameFunction('0xffffffff81000000')).toBeUndefined();
  expect(frameFunction('+0x10')).toBeUndefined();
});

test('new usable functions are proposed once, probed and unusable ones never', () => {
  const ps = new ProbeStack({
    probed: ['kfree_skb_reason'],
    usable: (fn) => fn !== 'do_softirq',
    keepAll: false,
    keep: new Set(),
  });
  const first = event('skb:kfree_skb', ['kfree_skb_reason+0x1', 'ip_rcv+0x2', 'do_softirq+0x3', 'ip_rcv+0x9']);
  expect(ps.take(first)).toEqual(['ip_rcv']);
  expect(ps.take(event('skb:kfree_skb', ['ip_rcv+0x2', 'tcp_v4_rcv+0x5', 'do_softirq+0x3']))).toEqual(['tcp_v4_rcv']);
  expect(ps.added).toEqual(['ip_rcv', 'tcp_v4_rcv']);
});

test('the stack leaves the event unless --stack or the probe asked for it', () => {
  const usable = (): boolean => true;
  const dropped = event('skb:kfree_skb', ['ip_rcv+0x2']);
  new ProbeStack({ probed: [], usable, keepAll: false, keep: new Set() }).take(dropped);
  expect(dropped.kernel?.stack_trace).toBeUndefined();
  const perProbe = event('skb:kfree_skb', ['ip_rcv+0x2']);
  new ProbeStack({ probed: [], usable, keepAll: false, keep: new Set(['raw_tracepoint/skb:kfree_skb']) }).take(
    perProbe,
  );
  expect(perProbe.kernel?.stack_trace).toEqual(['ip_rcv+0x2']);
  const all = event('skb:consume_skb', ['ip_rcv+0x2']);
  new ProbeStack({ probed: [], usable, keepAll: true, keep: new Set() }).take(all);
  expect(all.kernel?.stack_trace).toEqual(['ip_rcv+0x2']);
});
