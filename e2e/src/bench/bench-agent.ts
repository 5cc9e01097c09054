// One agent of the cluster-pipeline benchmark, as its own process (as on a real node): makes
// its share of the synthetic trace, connects to the aggregator, and on "go" does the agent's
// per-event work (the k8s section, the protobuf encoding, batching) and streams it over gRPC.
// Talks to the benchmark over the IPC channel: ready -> go -> done (with its peak RSS).
import { AgentLink, BatchQueue } from '@retrace/agent';
import { type Event } from '@retrace/events';
import { PROTOCOL_VERSION } from '@retrace/wire';
import { syntheticTrace } from '@retrace/aggregator';

const [address, indexArg, agentsArg, eventsArg] = process.argv.slice(2);
const index = Number(indexArg);
const agents = Number(agentsArg);
const total = Number(eventsArg);
const node = `node-${index}`;

// Pings between max(agents, 4) nodes; this agent sends what its nodes saw (one agent: all four).
const mine: Event[] = [];
const nodes = Math.max(agents, 4);
for (const chunk of syntheticTrace(total, nodes))
  for (const e of chunk) if (Number(e.node.slice('node-'.length)) % agents === index) mine.push(e.event);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
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
  maxBytesPerTrace: 1 << 30,
  flushMs: 5,
});
link.start();

// A real agent has been running for a while: the per-event path is compiled before "go" by
// encoding a share of the events into a queue that is thrown away.
const warm = new BatchQueue('warm-up', { maxBytes: 1 << 30 });
for (let k = 0; k < Math.min(mine.length, 20_000); k++) {
  const event = mine[k] as Event;
  event.k8s = { node };
  warm.addEvent(event);
}

let cpuAtGo: NodeJS.CpuUsage | undefined;
async function run(): Promise<void> {
  cpuAtGo = process.cpuUsage();
  const q = link.queue('bench');
  for (let k = 0; k < mine.length; k++) {
    const event = mine[k] as Event;
    event.k8s = { node };
    q.addEvent(event); // as the agent's trace runner does: encoded straight into the batch
    if (k % 2000 === 1999) await new Promise((r) => setImmediate(r)); // let the link write
  }
  while (!link.allIdle()) await new Promise((r) => setTimeout(r, 2));
  const cpu = process.cpuUsage(cpuAtGo);
  send({ done: mine.length, peakRss, cpuUs: cpu.user + cpu.system });
}

process.on('message', (m: { go?: boolean; stop?: boolean }) => {
  if (m.go) void run();
  if (m.stop) {
    clearInterval(sampler);
    link.stop();
    process.exit(0);
  }
});
const ready = setInterval(() => {
  if (!link.connected) return;
  clearInterval(ready);
  send({ ready: true });
}, 5);
