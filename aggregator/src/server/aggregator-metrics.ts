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
    help: 'Events lost, per node and cause (ring, backpressure, budget, malformed, aggregator-restart, agent-restart)',
    labelNames: ['node', 'cause'],
    registers: [this.registry],
  });
  readonly series = new Counter({
    name: 'retrace_aggregator_series_total',
    help: 'Per-node packet series sorted',
    registers: [this.registry],
  });
  // Counted per journey and per event as they are stored, these are added up here and handed to
  // their counters when the metrics are read (a labelled inc costs a label key each time).
  private stitchedJourneys = 0;
  private localJourneys = 0;
  private lateEvents = 0;
  private readonly dropsByReason = new Map<string, number>();
  readonly journeys = new Counter({
    name: 'retrace_aggregator_journeys_total',
    help: 'Journeys emitted, by whether they crossed nodes (stitched=true) or not',
    labelNames: ['stitched'],
    registers: [this.registry],
    collect: () => this.collectJourneys(),
  });
  readonly drops = new Counter({
    name: 'retrace_aggregator_drops_total',
    help: 'Packets dropped, by kernel drop reason',
    labelNames: ['reason'],
    registers: [this.registry],
    collect: () => this.collectDrops(),
  });
  readonly late = new Counter({
    name: 'retrace_aggregator_late_events_total',
    help: 'Events that arrived after their journey was emitted (behind the watermark)',
    registers: [this.registry],
    collect: () => this.collectLate(),
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
  readonly storeErrors = new Counter({
    name: 'retrace_aggregator_store_write_errors_total',
    help: 'Checkpoints that failed because the store could not write (disk full, read-only): batches stay unacknowledged',
    registers: [this.registry],
  });
  readonly storeBlocked = new Gauge({
    name: 'retrace_aggregator_store_blocked',
    help: '1 while the store cannot write and batches are not acknowledged',
    registers: [this.registry],
  });

  /** A journey stored (stitched: it crossed nodes). */
  journey(stitched: boolean): void {
    if (stitched) this.stitchedJourneys++;
    else this.localJourneys++;
  }

  /** An event stored late. */
  lateEvent(): void {
    this.lateEvents++;
  }

  /** A dropped packet's event stored, with its drop reason. */
  drop(reason: string): void {
    this.dropsByReason.set(reason, (this.dropsByReason.get(reason) ?? 0) + 1);
  }

  private collectJourneys(): void {
    if (this.stitchedJourneys) this.journeys.inc({ stitched: 'true' }, this.stitchedJourneys);
    if (this.localJourneys) this.journeys.inc({ stitched: 'false' }, this.localJourneys);
    this.stitchedJourneys = this.localJourneys = 0;
  }

  private collectDrops(): void {
    for (const [reason, n] of this.dropsByReason) this.drops.inc({ reason }, n);
    this.dropsByReason.clear();
  }

  private collectLate(): void {
    if (this.lateEvents) this.late.inc(this.lateEvents);
    this.lateEvents = 0;
  }
}
