// skb-tracking: every record of a packet carries its id (the first data buffer's address and
// when it was first seen), through clones, NAT, encapsulation and head reallocation. The BPF side
// is part of the core (bpf/include/tracking.bpf.h): whether a record is written depends on it.
import { Sec, ProbeFlag } from '../../decode/layout.js';
import { requireFields } from '../../decode/record-header.js';
import { section } from '../../decode/section.js';
import { STRUCTS } from '../../gen/probe-skeleton.js';
import { defineCollector } from '../define.js';

/**
 * Where tracking entries end, by `kind:symbol`: the skb is freed (`skb`: its head goes too when
 * no clone shares it), or its data buffer is (`head`).
 */
export const FREEING_POINTS: ReadonlyMap<string, 'skb' | 'head'> = new Map([
  ['tracepoint:skb:kfree_skb', 'skb'],
  ['tracepoint:skb:consume_skb', 'skb'],
  ['tracepoint:skb:skb_copy_datagram_iovec', 'skb'],
  ['kprobe:skb_free_head', 'head'],
  ['kprobe:kfree_skb_partial', 'skb'],
]);

/** Entries seen this long ago or less count as followed at exit. */
const MAX_AGE_NS = 60_000_000_000n;
const LAST_SEEN = STRUCTS.track_info.fields.last_seen.offset;
const INFO_SIZE = STRUCTS.track_info.size;
const KEY = STRUCTS.track_set.fields.key.offset;
const INFO = STRUCTS.track_set.fields.info.offset;
const WAYS = STRUCTS.track_set.fields.key.size / 8;

export const skbTracking = defineCollector({
  name: 'skb-tracking',
  /**
   * Freeing points, attached silently. Where kprobes exist, also retis's exact ones: the buffer
   * freed (skb_free_head) and a head handed to another skb (kfree_skb_partial), which no
   * tracepoint shows.
   */
  probes: ({ kprobes }) => [
    { spec: 'tp:skb:kfree_skb', silent: true },
    { spec: 'tp:skb:consume_skb', silent: true },
    // Sockets free read datagrams without consume_skb; reading them ends their journey.
    { spec: 'tp:skb:skb_copy_datagram_iovec', silent: true },
    ...(kprobes
      ? ['skb_free_head', 'kfree_skb_partial'].map((f) => ({ spec: `kprobe:${f}`, silent: true, optional: true }))
      : []),
  ],
  probeFlags: (p) => {
    const freeing = FREEING_POINTS.get(`${p.kind}:${p.symbol}`);
    return freeing === 'head' ? ProbeFlag.FREE_HEAD : freeing ? ProbeFlag.FREE : 0;
  },
  globals: () => ({ col_tracking: true }),
  sections: ({ event }) => {
    const f = requireFields(event, ['orig_head', 'track_ts', 'skb']);
    const [head, ts, skb] = [f.orig_head.off, f.track_ts.off, f.skb.off];
    return [
      section(
        'skb-tracking',
        ({ view, at, present }) =>
          present & Sec.TRACKING
            ? {
                orig_head: view.getBigUint64(at + head, true),
                timestamp: view.getBigUint64(at + ts, true),
                skb: view.getBigUint64(at + skb, true),
              }
            : undefined,
        (t) =>
          t.ifPresent(Sec.TRACKING, (t) =>
            t
              .lit(',"skb-tracking":{"orig_head":')
              .num(f.orig_head)
              .lit(',"timestamp":')
              .num(f.track_ts)
              .lit(',"skb":')
              .num(f.skb)
              .lit('}'),
          ),
      ),
    ];
  },
  start: ({ main }) => {
    let evicted = 0n;
    return {
      // Entries of packets whose freeing point was missed stay until their set needs the way
      // (track_table.bpf.h): at exit, the ones seen in the last MAX_AGE_NS count as followed.
      finish: (counts) => {
        const now = process.hrtime.bigint();
        let n = 0;
        for (const [, set] of main.map('tracking').lookupAll())
          for (let w = 0; w < WAYS; w++) {
            const key = set.readBigUInt64LE(KEY + 8 * w);
            if (key > 1n && now - set.readBigUInt64LE(INFO + w * INFO_SIZE + LAST_SEEN) <= MAX_AGE_NS) n++;
          }
        counts.followed = n;
        evicted = main.map('track_evictions').lookup(Buffer.alloc(4))?.readBigUInt64LE(0) ?? 0n;
      },
      summary: () =>
        evicted
          ? `skb-tracking: ${evicted} packet id(s) given up while in flight (a tracking table set was full: ` +
            `their later events start a new id; fewer packets in flight, or a filter, avoid it)`
          : undefined,
    };
  },
});
