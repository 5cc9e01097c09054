// Wildcard expansion against this kernel's BTF, and the choice of mechanism (the syntax itself:
// packages/spec/test/probe-syntax.test.ts).
import { chooseMechanism, resolveProbe, ProbeMechanismError } from '@retrace/agent';
import { parseProbe } from '@retrace/spec';
import { FEATURES, type FeatureReport } from '@retrace/ebpf-loader';

function features(yes: string[]): FeatureReport {
  return Object.fromEntries(
    FEATURES.map((f) => [f, yes.includes(f) ? { available: true } : { available: false, reason: 'no' }]),
  ) as FeatureReport;
}

test('tp:*skb* expands to tracepoints with an skb argument only', () => {
  const probes = resolveProbe(parseProbe('tp:*skb*'));
  const names = probes.map((p) => p.symbol);
  expect(names).toContain('skb:kfree_skb');
  expect(names).toContain('skb:consume_skb');
  for (const p of probes) expect(p.skbArg).toBeDefined();
  expect(probes.find((p) => p.symbol === 'skb:kfree_skb')?.reasonArg).toBe(2);
});

test('tp:net:* keeps netif_receive_skb with the skb as first argument', () => {
  const p = resolveProbe(parseProbe('tp:net:*')).find((x) => x.symbol === 'net:netif_receive_skb');
  expect(p).toMatchObject({ skbArg: 0, nargs: 1, prototype: 'void netif_receive_skb(struct sk_buff *skb)' });
});

test('kprobe wildcards resolve against BTF functions, keeping skb ones', () => {
  const probes = resolveProbe(parseProbe('kprobe:ip_rcv*'));
  expect(probes.map((p) => p.symbol)).toContain('ip_rcv');
  expect(probes.every((p) => p.skbArg !== undefined && p.skbArg < 5)).toBe(true);
});

test('mechanisms: the best available, in order, else an error naming the missing feature', () => {
  expect(chooseMechanism('tracepoint', 'tp:x:y', features(['raw_tp', 'raw_tp_cookie']))).toBe('raw_tp_cookie');
  expect(chooseMechanism('tracepoint', 'tp:x:y', features(['raw_tp']))).toBe('raw_tp');
  expect(chooseMechanism('kprobe', 'k:f', features(['kprobe', 'kprobe_multi', 'fentry']))).toBe('kprobe_multi');
  expect(chooseMechanism('kprobe', 'k:f', features(['kprobe', 'fentry']))).toBe('kprobe');
  expect(chooseMechanism('kprobe', 'k:f', features(['fentry']))).toBe('fentry');
  expect(chooseMechanism('kretprobe', 'kr:f', features(['fentry']))).toBe('fexit');
  expect(() => chooseMechanism('kprobe', 'kprobe:ip_rcv', features(['raw_tp']))).toThrow(ProbeMechanismError);
  expect(() => chooseMechanism('kprobe', 'kprobe:ip_rcv', features(['raw_tp']))).toThrow(
    /lacks kprobes \(CONFIG_KPROBES\), kprobe-multi and fentry; use a tracepoint instead/,
  );
  expect(() => chooseMechanism('fentry', 'fentry:f', features(['kprobe']))).toThrow(/lacks fentry/);
});
