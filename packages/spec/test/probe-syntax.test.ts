// Probe syntax: retis's types and shorthands, USDT, /stack, and what is refused.
import { parseProbe, ProbeSyntaxError } from '@retrace/spec';

test.each([
  ['tp:net:netif_receive_skb', { kind: 'tracepoint', target: 'net:netif_receive_skb', stack: false }],
  ['raw_tracepoint:skb:kfree_skb/stack', { kind: 'tracepoint', target: 'skb:kfree_skb', stack: true }],
  ['skb:kfree_skb', { kind: 'tracepoint', target: 'skb:kfree_skb', stack: false }],
  ['ip_rcv', { kind: 'kprobe', target: 'ip_rcv', stack: false }],
  ['k:ip_rcv', { kind: 'kprobe', target: 'ip_rcv', stack: false }],
  ['kr:ip_rcv', { kind: 'kretprobe', target: 'ip_rcv', stack: false }],
  ['fentry:tcp_v4_rcv', { kind: 'fentry', target: 'tcp_v4_rcv', stack: false }],
  ['fexit:tcp_*', { kind: 'fexit', target: 'tcp_*', stack: false }],
  ['tp:*skb*', { kind: 'tracepoint', target: '*skb*', stack: false }],
])('parses %s', (text, expected) => {
  expect(parseProbe(text)).toMatchObject(expected);
});

test('parses USDT probes', () => {
  expect(parseProbe('usdt:/usr/sbin/ovs-vswitchd:dpif_recv:recv_upcall')).toMatchObject({
    kind: 'usdt',
    usdt: { binary: '/usr/sbin/ovs-vswitchd', provider: 'dpif_recv', name: 'recv_upcall' },
  });
});

test.each(['', 'tp:net', 'tp:a:b:c', 'kprobe:a:b', 'ip rcv', 'usdt:/bin/x:onlyone', 'tp:net:x/frob'])(
  'refuses %j with the expected syntax in the message',
  (text) => {
    expect(() => parseProbe(text)).toThrow(ProbeSyntaxError);
    expect(() => parseProbe(text)).toThrow(/\[TYPE:\]TARGET/);
  },
);
