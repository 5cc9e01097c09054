// The Trace and ClusterTrace controller: watches traces, nodes, pods and namespaces; for each
// trace (one reconcile at a time per trace) it checks the spec, keeps a finalizer while it
// runs, resolves the nodes and pods it targets, hands the set of running traces to the
// aggregator (which assigns them to the agents), ends traces on stop, duration or maxEvents,
// and writes the status from the aggregator's summary at a bounded rate.
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { TraceSpec, TraceSummary } from '@retrace/events';
import { TraceSpecError, parseDuration, profileChecker, validateTrace, type TraceResource } from '@retrace/spec';
import { Informer, type Change } from './informer.js';
import { apiMessage, apiStatus, type KubeApi } from './kube-api.js';
import { objectKey, type Named } from './kube-types.js';
import { resolveTargets } from './targets.js';
import { FINALIZER, aggregatorName, traceSpecOf } from './trace-resource.js';
import { buildStatus, type StatusInputs } from './trace-status.js';
import { WorkQueue } from './work-queue.js';
import type { OperatorMetrics } from './operator-metrics.js';

/** What the controller needs of the aggregator (in the same process, or reached over gRPC). */
export interface AggregatorPort {
  setTraces(specs: TraceSpec[]): void;
  summary(trace: string): TraceSummary | undefined;
  connectedNodes(): string[];
  /** host:port of its query API, written into each trace's status. */
  readonly address: string;
}

export interface ControllerOptions {
  /** Least time between two status writes of one trace (default 2 s). */
  statusIntervalMs?: number;
  relistMs?: number;
  metrics?: OperatorMetrics;
  log?: (msg: string) => void;
}

type Kind = 'traces' | 'clustertraces';

export class TraceController {
  private readonly traces: Informer<TraceResource>;
  private readonly clusterTraces: Informer<TraceResource>;
  private readonly nodes: Informer<V1Node>;
  private readonly pods: Informer<V1Pod>;
  private readonly namespaces: Informer<V1Namespace>;
  /** Profiles a trace names must exist (found ones are remembered: this runs at every refresh). */
  private readonly checkProfile = profileChecker();
  private readonly queue: WorkQueue;
  /** Traces running, by aggregator name. */
  private readonly running = new Map<string, TraceSpec>();
  private readonly lastWrite = new Map<string, { at: number; json: string }>();
  private pushed = '';
  private readonly log: (m: string) => void;

  constructor(
    private readonly api: KubeApi,
    private readonly agg: AggregatorPort,
    private readonly opts: ControllerOptions = {},
  ) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    const io = { ...(opts.relistMs ? { relistMs: opts.relistMs } : {}), log: this.log };
    const onTrace = (kind: Kind) => (_c: Change, o: Named) => this.queue.add(`${kind}:${objectKey(o)}`);
    this.traces = new Informer<TraceResource>(api, 'traces', onTrace('traces'), io);
    this.clusterTraces = new Informer<TraceResource>(api, 'clustertraces', onTrace('clustertraces'), io);
    // Nodes joining or leaving, pods coming and going: every trace looks at its targets again.
    const everyTrace = (): void => this.enqueueAll();
    this.nodes = new Informer(api, 'nodes', everyTrace, io);
    this.pods = new Informer(api, 'pods', everyTrace, io);
    this.namespaces = new Informer(api, 'namespaces', everyTrace, io);
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      onError: (key, e) => {
        opts.metrics?.reconcileErrors.inc();
        this.log(`reconcile ${key}: ${apiMessage(e)}`);
      },
    });
  }

  async start(): Promise<void> {
    // Targets first, so the first reconcile of each trace sees the cluster.
    await Promise.all([this.nodes.start(), this.pods.start(), this.namespaces.start()]);
    await Promise.all([this.traces.start(), this.clusterTraces.start()]);
  }

  stop(): void {
    this.queue.stop();
    for (const i of [this.traces, this.clusterTraces, this.nodes, this.pods, this.namespaces]) i.stop();
  }

  /** Resolves when no reconcile is queued or running (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueueAll(): void {
    if (!this.traces.synced || !this.clusterTraces.synced) return;
    for (const t of this.traces.values()) this.queue.add(`traces:${objectKey(t)}`);
    for (const t of this.clusterTraces.values()) this.queue.add(`clustertraces:${objectKey(t)}`);
  }

  private async reconcile(key: string): Promise<void> {
    const colon = key.indexOf(':');
    const kind = key.slice(0, colon) as Kind;
    // The object key (ns/name, or name) is also the trace's name at the aggregator.
    const name = key.slice(colon + 1);
    const t = (kind === 'traces' ? this.traces : this.clusterTraces).get(name);
    if (!t) {
      this.lastWrite.delete(key);
      this.setRunning(name, undefined);
      return;
    }
    if (t.metadata.deletionTimestamp) {
      // Deleted: stop it on every node, then let the API server remove it. Stored results
      // stay in the aggregator until its retention or size cap removes them.
      this.setRunning(name, undefined);
      if (t.metadata.finalizers?.includes(FINALIZER))
        await this.replace({
          ...t,
          metadata: { ...t.metadata, finalizers: t.metadata.finalizers.filter((f) => f !== FINALIZER) },
        });
      return;
    }
    if (!t.metadata.finalizers?.includes(FINALIZER)) {
      await this.replace({
        ...t,
        metadata: { ...t.metadata, finalizers: [...(t.metadata.finalizers ?? []), FINALIZER] },
      });
      return; // the update comes back through the watch
    }

    const now = new Date();
    const inputs: StatusInputs = {
      nodes: [],
      connected: new Set(this.agg.connectedNodes()),
      summary: this.agg.summary(aggregatorName(t)),
      startTime: t.status?.startTime,
      aggregator: this.agg.address,
      now: now.toISOString(),
    };
    const status = t.status ?? {};
    let durationMs = 0;
    try {
      // No packet filter check: the operator has no libpcap. Agents compile the filter when the
      // trace starts; a refusal comes back through the summary (trace-status.ts agentRefusal).
      validateTrace(t, { profile: this.checkProfile });
      durationMs = parseDuration('duration', t.spec?.duration);
    } catch (e) {
      if (!(e instanceof TraceSpecError)) throw e;
      inputs.invalid = e.message;
    }
    if (!inputs.invalid) {
      const targets = resolveTargets(t, {
        nodes: this.nodes.values(),
        pods: this.pods.values(),
        namespaces: this.namespaces.values(),
      });
      inputs.nodes = targets.nodes;
      inputs.startTime ??= now.toISOString();
      const started = Date.parse(inputs.startTime);
      const events = Number(inputs.summary?.events ?? 0n);
      const max = t.spec?.maxEvents ?? 0;
      if (status.phase === 'Completed')
        inputs.ended = {
          reason: reasonOf(status),
          message: status.message ?? 'ended',
          at: status.endTime ?? inputs.now,
        };
      else if (t.spec?.stopped)
        inputs.ended = { reason: 'Stopped', message: 'stopped by request (spec.stopped)', at: inputs.now };
      else if (durationMs && now.getTime() - started >= durationMs)
        inputs.ended = {
          reason: 'DurationReached',
          message: `ran for its duration (${t.spec?.duration})`,
          at: inputs.now,
        };
      else if (max && events >= max)
        inputs.ended = {
          reason: 'MaxEventsReached',
          message: `collected ${events} events (maxEvents ${max})`,
          at: inputs.now,
        };
      if (inputs.ended) this.setRunning(name, undefined);
      else {
        this.setRunning(name, targets.nodes.length ? traceSpecOf(t, targets.nodes, targets.pods) : undefined);
        if (durationMs) this.queue.after(key, started + durationMs - now.getTime() + 5);
      }
    } else this.setRunning(name, undefined);

    await this.writeStatus(key, t, buildStatus(t, inputs));
    // While it runs, the status follows the aggregator's counts.
    if (!inputs.invalid && !inputs.ended) this.queue.after(key, this.opts.statusIntervalMs ?? 2000);
  }

  private setRunning(name: string, spec: TraceSpec | undefined): void {
    if (spec) this.running.set(name, spec);
    else this.running.delete(name);
    const specs = [...this.running.values()].sort((a, b) => a.name.localeCompare(b.name));
    const json = JSON.stringify(specs, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    if (json === this.pushed) return;
    this.pushed = json;
    this.agg.setTraces(specs);
  }

  private async writeStatus(key: string, t: TraceResource, status: TraceResource['status']): Promise<void> {
    const json = JSON.stringify(status);
    const last = this.lastWrite.get(key);
    if (last?.json === json) return;
    const phaseChanged = t.status?.phase !== status?.phase;
    const wait = last ? last.at + (this.opts.statusIntervalMs ?? 2000) - Date.now() : 0;
    if (wait > 0 && !phaseChanged) {
      this.queue.after(key, wait); // bounded rate: counts wait, phase changes do not
      return;
    }
    try {
      await this.api.replaceTraceStatus({ ...t, status: status ?? {} });
      this.lastWrite.set(key, { at: Date.now(), json });
      this.opts.metrics?.observePhases(this.phases());
    } catch (e) {
      if (apiStatus(e) === 409 || apiStatus(e) === 404) return; // a newer version is on its way through the watch
      throw e;
    }
  }

  private async replace(t: TraceResource): Promise<void> {
    try {
      await this.api.replaceTrace(t);
    } catch (e) {
      if (apiStatus(e) === 409 || apiStatus(e) === 404) return; // the watch brings the newer one
      throw e;
    }
  }

  /** Traces by phase (from the cache), for the metrics. */
  phases(): Map<string, number> {
    const m = new Map<string, number>();
    for (const t of [...this.traces.values(), ...this.clusterTraces.values()]) {
      const p = t.status?.phase ?? 'Pending';
      m.set(p, (m.get(p) ?? 0) + 1);
    }
    return m;
  }
}

function reasonOf(s: TraceResource['status']): string {
  return s?.conditions?.find((c) => c.type === 'Complete')?.reason ?? 'Completed';
}
