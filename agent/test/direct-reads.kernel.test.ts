// probe.bpf.o reads the kernel with typed direct loads (bpf_rdonly_cast); probe_compat.bpf.o,
// for kernels without them, copies the sk_buff and reads the rest with bpf_probe_read_kernel.
// Both attached at once see the same packets: every record must say the same, but for when
// each program ran.
import { spawnSync } from 'node:child_process';
import { TracingSession } from '@retrace/agent';
import { Netns } from '@retrace/e2e';
import { bpfObjectPath, probeFeatures } from '@retrace/ebpf-loader';
import { compileFilter, installFilter } from '../src/filter/packet-filter.js';
import { compileMetaFilter } from '../src/filter/meta-compile.js';
import { PROGRAMS, type ProgramName } from '../src/gen/probe-skeleton.js';
import { ProbeObject } from '../src/session/probe-object.js';
import type { Event } from '@retrace/events';

const features = probeFeatures();
const onKernel = features.direct_reads.available ? test : test.skip;

/** The event without the times at which this program ran (each program has its own). */
function comparable(ev: Event): string {
  const { common, ...rest } = ev;
  const tracking = rest['skb-tracking'];
  return JSON.stringify(
    {
      ...rest,
      task: common?.task,
      ...(tracking ? { 'skb-tracking': { ...tracking, timestamp: 0n } } : {}),
    },
    (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

onKernel('the direct-reads and the compat objects record the same packets the same way', () => {
  const ns = Netns.create('direct');
  const events = { direct: [] as Event[], compat: [] as Event[] };
  const start = (which: 'direct' | 'compat'): TracingSession =>
    TracingSession.start({
      collectors: ['skb-tracking,skb-drop,skb,dev,ns,ct'],
      probes: ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit', 'tp:skb:kfree_skb'],
      features: {
        ...features,
        direct_reads: which === 'direct' ? features.direct_reads : { available: false, reason: 'test' },
      },
      onEvent: (ev) => {
        if (ev.netns?.inum !== undefined && ev.netns.inum === ns.inode) events[which].push(ev);
      },
    });
  const direct = start('direct');
  const compat = start('compat');
  try {
    spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '3', '-i', '0.05', '127.0.0.1']);
    ns.sendUdp('127.0.0.1', 9); // dropped (no socket): a drop reason
    direct.drain();
    compat.drain();
  } finally {
    direct.stop();
    compat.stop();
    ns.destroy();
  }
  expect(events.direct.length).toBeGreaterThan(10);
  expect(events.direct.some((e) => e['skb-drop'])).toBe(true);
  expect(events.direct.some((e) => e.dev?.name === 'lo' && e.skb && e.packet)).toBe(true);
  expect(events.direct.map(comparable).sort()).toEqual(events.compat.map(comparable).sort());
});

test('every generic program of both objects loads with the largest filters and every switch on', () => {
  // Load time is when the verifier adds up the stack of the probe and the spliced filter (512
  // bytes in all): the compat build, with its sk_buff copy, gets the filter without the header copy.
  const generic = (Object.keys(PROGRAMS) as ProgramName[]).filter(
    (p) => p.startsWith('probe_') && !['probe_fentry', 'probe_fexit', 'probe_nft_kprobe'].includes(p),
  );
  expect(generic.length).toBeGreaterThan(15);
  for (const direct of [true, false]) {
    if (direct && !features.direct_reads.available) continue;
    const filter = compileFilter('src net 10.0.0.0/8 and (tcp port 80 or udp port 53) and ip[8] > 1', {
      prefetch: direct,
    });
    const undo = installFilter(filter, compileMetaFilter('sk_buff.mark == 7'));
    try {
      for (const program of generic) {
        const o = ProbeObject.open(bpfObjectPath(direct ? 'probe' : 'probe_compat'));
        try {
          o.set({
            filter_packet: true,
            filter_meta: true,
            filter_netns: true,
            count_followed: true,
            col_tracking: true,
            col_drop: true,
            col_skb: true,
            col_packet: true,
            col_dev: true,
            col_ns: true,
          });
          o.loadOnly([program]);
        } finally {
          o.close();
        }
      }
    } finally {
      undo();
    }
  }
});
