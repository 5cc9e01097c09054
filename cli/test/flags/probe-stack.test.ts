// --probe-stack's checks before anything loads: retis's filter rule, its seeds, and the
// kernel's kprobes (with the configuration's reason when they are missing).
import { ProbeStackError } from '@retrace/agent';
import type { FeatureReport } from '@retrace/ebpf-loader';
import { PROBE_STACK_SEEDS, probeStackStart } from '../../src/commands/probe-stack.js';
import { UsageError } from '../../src/usage-error.js';

const features = (kprobe: boolean) => (): FeatureReport =>
  ({ kprobe: kprobe ? { available: true } : { available: false, reason: 'attach failed: ENOENT' } }) as FeatureReport;

test('without --probe-stack, the probes given', () => {
  expect(probeStackStart({ probe: ['tp:net:netif_rx'] }, features(false), undefined)).toEqual(['tp:net:netif_rx']);
});

test('a filter is required, as in retis', () => {
  expect(() => probeStackStart({ probeStack: true, probe: [] }, features(true), undefined)).toThrow(UsageError);
  expect(() => probeStackStart({ probeStack: true, probe: [] }, features(true), undefined)).toThrow(
    /--probe-stack needs a filter \(-f\/--filter-packet and\/or -m\/--filter-meta\)/,
  );
});

test('seeds tp:skb:kfree_skb and tp:skb:consume_skb unless -p is given', () => {
  expect(PROBE_STACK_SEEDS).toEqual(['tp:skb:kfree_skb', 'tp:skb:consume_skb']);
  expect(probeStackStart({ probeStack: true, probe: [], filterPacket: 'icmp' }, features(true), undefined)).toEqual(
    PROBE_STACK_SEEDS,
  );
  expect(
    probeStackStart(
      { probeStack: true, probe: ['tp:net:netif_rx'], filterMeta: 'sk_buff.mark == 1' },
      features(true),
      undefined,
    ),
  ).toEqual(['tp:net:netif_rx']);
});

test('no kprobes: refused with the configuration or the kernel as the reason, and where it runs', () => {
  const f = { probeStack: true, probe: [], filterPacket: 'icmp' };
  const kconf = { path: '/proc/config.gz', options: new Map([['CONFIG_KPROBES', 'n']]) };
  expect(() => probeStackStart(f, features(false), kconf)).toThrow(ProbeStackError);
  expect(() => probeStackStart(f, features(false), kconf)).toThrow(
    /this kernel has none \(CONFIG_KPROBES is not set in \/proc\/config\.gz\); run it on a kernel with kprobes .*kernel lab/,
  );
  expect(() => probeStackStart(f, features(false), undefined)).toThrow(/has none \(attach failed: ENOENT\)/);
});
