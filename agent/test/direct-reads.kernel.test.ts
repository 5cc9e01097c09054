// probe.bpf.o reads the kernel with typed direct loads (bpf_rdonly_cast); probe_compat.bpf.o,
// for kernels without them, copies the sk_buff and reads the rest with bpf_probe_read_kernel.
// Both attached at once see the same packets: every record must say the same, but for when
// each program ran. Likewise for the three ways a packet filter reads the packet.
import { spawnSync } from 'node:child_process';
import { TracingSession } from '@retrace/agent';
import { Netns } from '@retrace/e2e';
import { bpfObjectPath, probeFeatures } from '@retrace/ebpf-loader';
import { compileFilter, filterOptions, installFilter } from '../src/filter/packet-filter.js';
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

/** The IPv4 protocol of an event's packet (from its Ethernet header on). */
function ipProto(ev: Event): number | undefined {
  const d = ev.packet ? Buffer.from(ev.packet.data, 'base64') : undefined;
  return d && d.length > 23 && d.readUInt16BE(12) === 0x0800 ? d[23] : undefined;
}

/** The objects and filter modes a session picks from the kernel's features, forced one by one. */
const BUILDS = {
  // probe.bpf.o, filters with direct packet loads where the kernel has them
  direct: features,
  // probe.bpf.o, filters with the header copy
  prefetch: { ...features, direct_packet: { available: false, reason: 'test' } },
  // probe_compat.bpf.o, filters with a helper call per load
  compat: {
    ...features,
    direct_reads: { available: false, reason: 'test' },
    direct_packet: { available: false, reason: 'test' },
  },
};
type Build = keyof typeof BUILDS;

/** Starts one session per build on the same probes, runs traffic in a namespace, returns each one's events there. */
function recordEach(builds: Build[], filter?: string): Record<Build, Event[]> {
  const ns = Netns.create('direct');
  const events: Record<Build, Event[]> = { direct: [], prefetch: [], compat: [] };
  const sessions: TracingSession[] = [];
  try {
    for (const which of builds)
      sessions.push(
        TracingSession.start({
          collectors: ['skb-tracking,skb-drop,skb,dev,ns,ct'],
          probes: ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit', 'tp:skb:kfree_skb'],
          features: BUILDS[which],
          ...(filter ? { filter } : {}),
          onEvent: (ev) => {
            if (ev.netns?.inum !== undefined && ev.netns.inum === ns.inode) events[which].push(ev);
          },
        }),
      );
    spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '3', '-i', '0.05', '127.0.0.1']);
    ns.sendUdp('127.0.0.1', 9); // dropped (no socket): a drop reason
    for (const s of sessions) s.drain();
  } finally {
    for (const s of sessions) s.stop();
    ns.destroy();
  }
  return events;
}

onKernel('the direct-reads and the compat objects record the same packets the same way', () => {
  const events = recordEach(['direct', 'compat']);
  expect(events.direct.length).toBeGreaterThan(10);
  expect(events.direct.some((e) => e['skb-drop'])).toBe(true);
  expect(events.direct.some((e) => ipProto(e) === 17)).toBe(true);
  expect(events.direct.some((e) => e.dev?.name === 'lo' && e.skb && e.packet)).toBe(true);
  expect(events.direct.map(comparable).sort()).toEqual(events.compat.map(comparable).sort());
});

onKernel('a packet filter picks the same packets whichever way it reads them', () => {
  // The pings match; the UDP datagram does not.
  const events = recordEach(['direct', 'prefetch', 'compat'], 'icmp');
  expect(events.direct.length).toBeGreaterThan(10);
  expect(events.direct.some((e) => ipProto(e) === 1)).toBe(true);
  expect(events.direct.some((e) => ipProto(e) === 17)).toBe(false);
  expect(events.prefetch.map(comparable).sort()).toEqual(events.direct.map(comparable).sort());
  expect(events.compat.map(comparable).sort()).toEqual(events.direct.map(comparable).sort());
});

test('every generic program of both objects loads with the largest filters and every switch on', () => {
  // Load time is when the verifier adds up the stack of the probe and the spliced filter (512
  // bytes in all): the compat build, with its sk_buff copy, gets the filter without the header
  // copy. probe.bpf.o loads with the header copy everywhere it loads, and with direct packet
  // loads where the kernel has them.
  const generic = (Object.keys(PROGRAMS) as ProgramName[]).filter(
    (p) => p.startsWith('probe_') && !['probe_fentry', 'probe_fexit', 'probe_nft_kprobe'].includes(p),
  );
  expect(generic.length).toBeGreaterThan(15);
  const builds = (Object.keys(BUILDS) as Build[]).filter(
    (b) => b === 'compat' || (b === 'direct' ? features.direct_packet.available : features.direct_reads.available),
  );
  if (features.direct_packet.available) expect(builds).toContain('direct');
  for (const build of builds) {
    const opts = filterOptions(BUILDS[build]);
    const filter = compileFilter('src net 10.0.0.0/8 and (tcp port 80 or udp port 53) and ip[8] > 1', opts);
    expect(filter.direct).toBe(build === 'direct');
    const undo = installFilter(filter, compileMetaFilter('sk_buff.mark == 7'));
    try {
      for (const program of generic) {
        const o = ProbeObject.open(bpfObjectPath(build === 'compat' ? 'probe_compat' : 'probe'));
        try {
          o.set({
            filter_packet: true,
            direct_packet: filter.direct,
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
