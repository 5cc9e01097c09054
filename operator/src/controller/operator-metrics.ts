// The operator's Prometheus metrics, registered next to the aggregator's (one /metrics).
import { Counter, Gauge, type Registry } from 'prom-client';

const PHASES = ['Pending', 'Running', 'Completed', 'Failed', 'Degraded'];

export class OperatorMetrics {
  readonly traces: Gauge;
  readonly reconcileErrors: Counter;
  readonly leader: Gauge;

  constructor(registry: Registry) {
    this.traces = new Gauge({
      name: 'retrace_operator_traces',
      help: 'Trace and ClusterTrace resources by phase',
      labelNames: ['phase'],
      registers: [registry],
    });
    this.reconcileErrors = new Counter({
      name: 'retrace_operator_reconcile_errors_total',
      help: 'Reconciles that failed (retried with backoff)',
      registers: [registry],
    });
    this.leader = new Gauge({
      name: 'retrace_operator_leader',
      help: '1 while this replica holds the leader lease',
      registers: [registry],
    });
  }

  observePhases(byPhase: Map<string, number>): void {
    for (const p of PHASES) this.traces.set({ phase: p }, byPhase.get(p) ?? 0);
  }
}
