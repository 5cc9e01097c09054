// The agent's Prometheus metrics.
import { Counter, Gauge, Registry } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'retrace_agent_events_total',
    help: 'Events decoded from the kernel, per trace',
    labelNames: ['trace'],
    registers: [this.registry],
  });
  readonly lost = new Counter({
    name: 'retrace_agent_events_lost_total',
    help: 'Events lost, per trace and cause (ring, backpressure, budget)',
    labelNames: ['trace', 'cause'],
    registers: [this.registry],
  });
  readonly traces = new Gauge({
    name: 'retrace_agent_traces',
    help: 'Traces running on this node',
    registers: [this.registry],
  });
  readonly sessions = new Gauge({
    name: 'retrace_agent_sessions',
    help: 'Tracing sessions in the kernel (traces asking for the same one share it)',
    registers: [this.registry],
  });
  readonly probes = new Gauge({
    name: 'retrace_agent_probes_attached',
    help: 'Probes attached, per trace',
    labelNames: ['trace'],
    registers: [this.registry],
  });
  readonly connected = new Gauge({
    name: 'retrace_agent_connected',
    help: '1 while the stream to the aggregator is up',
    registers: [this.registry],
  });
  readonly buffered = new Gauge({
    name: 'retrace_agent_buffered_bytes',
    help: 'Bytes of events held for the aggregator, per trace',
    labelNames: ['trace'],
    registers: [this.registry],
  });
  readonly ringFill = new Gauge({
    name: 'retrace_agent_ring_fill_ratio',
    help: 'How full the kernel ring buffer is, per trace',
    labelNames: ['trace'],
    registers: [this.registry],
  });
}
