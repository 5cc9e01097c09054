// One agent of the cluster-pipeline benchmark, as its own process (as on a real node): connects
// to the aggregator, and on "go" streams its share of the synthetic trace, made as it is sent
// (a real agent holds only what it has not sent: its events come from the ring buffer one at a
// time), doing the agent's per-event work (the k8s section, the protobuf encoding, batching) and
// writing the batches over gRPC. Talks to the benchmark over the IPC channel: ready -> go -> done
// (with its peak RSS and CPU time, and the CPU time the synthetic events took to make).
// Arguments: address, index, agents, events (of all agents), then optionally the events/s this
// agent keeps to (0: as fast as it can) and `real` for a real agent's link settings (its default
// bound on held bytes and batch timer) instead of the benchmark's (no bound, 5 ms).
import { AgentLink, BatchQueue } from '@retrace/agent';
import { PROTOCOL_VERSION } from '@retrace/wire';
// The synthetic trace alone: a real agent does not load the aggregator (60 MiB of RSS). Each
// node's batch period comes as a chunk of its own (syntheticArrivals: the same events in the same
// order as syntheticTrace), made as it is sent, as a real agent's events live as long as their
// encoding (a whole period's, 4 nodes' worth, would outlive young collections: most of what
// making them cost was the collector's).
import { syntheticArrivals } from '@retrace/aggregator/synthetic-trace';

const [address, indexArg, agentsArg, eventsArg, rateArg, linkArg] = process.argv.slice(2);
const index = Number(indexArg);
const agents = Number(agentsArg);
const total = Number(eventsArg);
const rate = Number(rateArg ?? 0);
const real = linkArg === 'real';
const node = `node-${index}`;
// Pings between max(agents, 4) nodes; this agent sends what its nodes saw (one agent: all four).
const nodes = Math.max(agents, 4);
const mine = (n: number): boolean => n % agents === index;

let peakRss = 0;
const sampleRss = (): void => void (peakRss = Math.max(peakRss, process.memoryUsage.rss()));
const sampler = setInterval(sampleRss, 100);
const send = (m: object): void => void process.send?.(m);

const link = new AgentLink({
  address: address ?? '',
  tls: { insecure: true },
  register: () => ({
    protocol: PROTOCOL_VERSION,
    node,
    kernel_release: 'bench',
    version: 'bench',
    incarnation: `bench-${index}`,
    boot_offset: { sec: 1_700_000_000n, nsec: 0n },
  }),
  onAssignments: () => undefined,
  ...(real ? {} : { maxBytesPerTrace: 1 << 30, flushMs: 5 }),
});
link.start();

// A real agent has been running for a while: the per-event path is compiled before "go" by
// encoding some 20k of its events into a queue that is thrown away.
{
  const warm = new BatchQueue('warm-up', { maxBytes: 1 << 30 });
  for (const chunk of syntheticArrivals(Math.min(total, 20_000 * agents), nodes, mine))
    for (const { event } of chunk) {
      event.k8s = { node };
      warm.addEvent(event);
    }
}

const cpuNow = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

async function run(): Promise<void> {
  const cpu0 = cpuNow();
  const sys0 = process.cpuUsage().system;
  const t0 = performance.now();
  let genUs = 0;
  let sent = 0;
  const q = link.queue('bench');
  const trace = syntheticArrivals(total, nodes, mine);
  for (;;) {
    const g0 = cpuNow();
    const next = trace.next();
    genUs += cpuNow() - g0;
    if (next.done === true) break;
    for (const { event } of next.value) {
      event.k8s = { node };
      q.addEvent(event); // as the agent's trace runner does: encoded straight into the batch
      if (++sent % 2000 === 0) await new Promise((r) => setImmediate(r)); // let the link write
    }
    if (rate > 0) {
      const ahead = t0 + (sent / rate) * 1000 - performance.now();
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  }
  while (!link.allIdle()) await new Promise((r) => setTimeout(r, 2));
  sampleRss();
  const cpuUs = cpuNow() - cpu0;
  const sysUs = process.cpuUsage().system - sys0;
  send({ done: sent, peakRss, cpuUs, sysUs, genUs, secs: (performance.now() - t0) / 1000 });
}

process.on('message', (m: { go?: boolean; stop?: boolean }) => {
  if (m.go) void run();
  if (m.stop) {
    clearInterval(sampler);
    void link.stop();
    process.exit(0);
  }
});
const ready = setInterval(() => {
  if (!link.connected) return;
  clearInterval(ready);
  sampleRss();
  send({ ready: true });
}, 5);
