// Stored traces for the query API's tests, written straight into a store directory (what the
// aggregator keeps after a run): `journeys` one-event journeys per trace, each a small ping
// event from node-a, so that a test can make a trace as large as it needs in seconds.
import { encodeMessage, type Event } from '@retrace/events';
import { SortKeyReader, SortedEvent, TraceStore } from '@retrace/aggregator';

export function fillStore(dir: string, traces: Record<string, number>): void {
  const store = TraceStore.open(dir);
  const keys = new SortKeyReader();
  try {
    const data = Buffer.alloc(98, 0x5a).toString('base64');
    for (const [trace, journeys] of Object.entries(traces)) {
      const [namespace, pod] = trace.includes('/') ? trace.split('/') : ['', ''];
      for (let i = 0; i < journeys; i++) {
        const ev: Event = {
          common: { timestamp: BigInt(i), smp_id: 0 },
          kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
          packet: { len: 98, capture_len: 98, data },
          k8s: { node: 'node-a', namespace: namespace ?? '', pod: pod ?? '' },
        };
        const e = new SortedEvent('node-a', encodeMessage('Event', ev), keys, BigInt(i));
        store.append(trace, { id: `node-a/${i}`, nodes: ['node-a'], events: [e] });
      }
    }
  } finally {
    store.close();
  }
}
