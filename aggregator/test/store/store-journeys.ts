// Journeys for the trace store's tests: a ping from node-a dropped on node-b (three events, two
// senders), a ping that stays on one node, and what a store serves back.
import type { Event, TraceSummary } from '@retrace/events';
import type { Journey, SortedEvent, TraceStore } from '../../src/journeys/index.js';
import { event, overVxlan, podPing, sortedEvent, tracking } from '../journeys/packets.js';

export const T = 1_732_000_000_000_000_000n;

export function sorted(node: string, ev: Event, idx: number, late = false): SortedEvent {
  return sortedEvent(node, ev, T + BigInt(idx), idx, late);
}

/** A ping from a pod on node-a that node-b drops; `n` makes each journey distinct. */
export function dropped(n: number, reason = 'NETFILTER_DROP'): Journey {
  const st = tracking(BigInt(n) * 1000n, 0xffff888000000000n + BigInt(n) * 0x1000n);
  const pod = { namespace: 'default', name: `client-${n % 3}` };
  const events = [
    sorted('node-a', event({ ts: 10n, tracking: st, packet: podPing(n), node: 'node-a', pod }), 0),
    sorted('node-a', event({ ts: 20n, tracking: st, packet: overVxlan(podPing(n)), node: 'node-a', pod }), 1),
    sorted('node-b', event({ ts: 30n, tracking: st, packet: podPing(n), node: 'node-b', drop: reason }), 2),
  ];
  return { id: `node-a/${n}`, nodes: ['node-a', 'node-b'], events };
}

/** A ping seen only by `node` (whose agent sets no k8s section). */
export function local(n: number, node = 'node-c'): Journey {
  const ev = event({ ts: 5n, tracking: tracking(BigInt(n), BigInt(n)), packet: podPing(n) });
  return { id: `${node}/${n}`, nodes: [node], events: [sorted(node, ev, 0)] };
}

/** `journey id#idx` of every event served, in order. */
export const ids = (store: TraceStore, trace: string, filter = {}): string[] =>
  [...store.events(trace, filter)].map(({ event: e }) => `${e.journey?.id}#${e.journey?.idx}`);

/** A saved summary with every kind of field: 64-bit counts past 2^53, lists, a fraction. */
export const summary: TraceSummary = {
  trace: 'default/ping',
  nodes: [
    {
      node: 'node-a',
      state: 'complete',
      probes_attached: 3,
      probes_failed: 1,
      failed_probes: [{ probe: 'kprobe:ip_rcv', reason: 'this kernel lacks kprobes' }],
      events: 2n ** 60n + 1n,
      lost: 7n,
      error: '',
      kernel_release: '6.1',
      events_emitted: 5n,
      ring_fill: 0.25,
    },
  ],
  events: 2n ** 60n + 1n,
  lost: 7n,
  series: 2n,
  journeys: 1n,
  stitched: 1n,
  unstitched: 0n,
  late: 0n,
  drops: [{ reason: 'NETFILTER_DROP', count: 3n, example: '[node-b] ...' }],
  drop_places: [{ reason: 'NETFILTER_DROP', node: 'node-b', pod: 'default/client-1', count: 3n }],
  stored_bytes: 100n,
  evicted: 2n,
  store_problem: '',
};
