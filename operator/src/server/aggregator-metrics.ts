// The aggregator's Prometheus metrics.
import { Counter, Gauge, Registry } from 'prom-client';

export class AggregatorMetrics {
  readonly registry = new Registry();
  readonly received = new Counter({
    name: 'retrace_aggregator_events_received_total',
    help: 'Events received from agents, per node',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly lost = new Counter({
    name: 'retrace_aggregator_events_lost_total',
    help: 'Events lost before reaching the aggregator, per node and cause (ring, backpressure, budget, malformed, gap)',
    labelNames: ['node', 'cause'],
    registers: [this.registry],
  });
  readonly series = new Counter({
    name: 'retrace_aggregator_series_total',
    help: 'Per-node packet series sorted',
    registers: [this.registry],
  });
  readonly journeys = new Counter({
    name: 'retrace_aggregator_journeys_total',
    help: 'Journeys emitted, by whether they crossed nodes (stitched=true) or not',
    labelNames: ['stitched'],
    registers: [this.registry],
  });
  readonly drops = new Counter({
    name: 'retrace_aggregator_drops_total',
    help: 'Packets dropped, by kernel drop reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly late = new Counter({
    name: 'retrace_aggregator_late_events_total',
    help: 'Events that arrived after their journey was emitted (behind the watermark)',
    registers: [this.registry],
  });
  readonly agents = new Gauge({
    name: 'retrace_aggregator_agents_connected',
    help: 'Agents with a live stream',
    registers: [this.registry],
  });
  readonly streamErrors = new Counter({
    name: 'retrace_aggregator_stream_errors_total',
    help: 'Malformed or refused messages, per node',
    labelNames: ['node'],
    registers: [this.registry],
  });
}
