// The node agent: registers with the aggregator, runs a tracing session for each trace assigned
// to this node, streams their events, reports attach results, status and completion, serves
// health and metrics, and releases every kernel resource on SIGTERM or when the aggregator stays
// away too long.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { release } from 'node:os';
import type { Server } from 'node:http';
import { monotonicClockOffset, probeFeatures } from '@retrace/ebpf-loader';
import {
  clockOffsetFromNs,
  encodeMessage,
  type Assignments,
  type PodRef,
  type Register,
  type TraceSpec,
} from '@retrace/events';
import { startHealthServer, PROTOCOL_VERSION, type TlsFiles } from '@retrace/wire';
import { AgentLink, type LinkState } from '../link/agent-link.js';
import { AgentMetrics } from './agent-metrics.js';
import { SessionPool } from './session-pool.js';
import { TraceRunner, type PodLookup } from './trace-runner.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDaemonOptions {
  server: string;
  tls: TlsFiles;
  node: string;
  /** The pod mapper: told every assigned pod, refreshed periodically and on assignments. */
  pods: PodLookup & { setPods(pods: readonly PodRef[]): void; refresh(): Promise<unknown>; clear(): void };
  /** Names under /run/netns (or paths) of the namespaces that make up this node, when it is not the whole host. */
  nodeNetns?: string[];
  metricsPort?: number;
  /** Where health and metrics listen (default 0.0.0.0). */
  metricsHost?: string;
  /** Bytes of events each trace may hold while the aggregator is behind or away. */
  maxBytesPerTrace?: number;
  /** Stop every trace when the aggregator has been unreachable this long (ms). */
  orphanMs?: number;
  log?: (msg: string) => void;
}

export class NetnsNotFoundError extends Error {
  constructor(name: string, why: string) {
    super(
      `node network namespace '${name}' not found (${why}): give a name under /run/netns or a path to a namespace file`,
    );
    this.name = 'NetnsNotFoundError';
  }
}

function netnsInode(name: string): number {
  const path = name.includes('/') ? name : `/run/netns/${name}`;
  try {
    return statSync(path).ino;
  } catch (e) {
    throw new NetnsNotFoundError(name, (e as Error).message);
  }
}

export class AgentDaemon {
  private readonly link: AgentLink;
  private readonly runners = new Map<string, { runner: TraceRunner; key: string }>();
  /** Tracing sessions, shared by traces that ask for the same one. */
  private readonly sessions = new SessionPool();
  readonly metrics = new AgentMetrics();
  private readonly incarnation = randomBytes(8).toString('hex');
  private readonly nodeNetns: number[] | undefined;
  private health: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private disconnectedSince: number | undefined = Date.now();
  private refusal: string | undefined;
  private readonly log: (msg: string) => void;
  private stopping = false;
  private features: ReturnType<typeof probeFeatures> | undefined;
  private applying: Promise<void> = Promise.resolve();
  private refreshing = false;
  /** Stopped traces whose queues still hold events for the aggregator. */
  private readonly draining = new Set<string>();

  constructor(private readonly opts: AgentDaemonOptions) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.nodeNetns = opts.nodeNetns?.map(netnsInode);
    this.link = new AgentLink({
      address: opts.server,
      tls: opts.tls,
      register: () => this.registration(),
      // Assignments are applied one after the other, each once the pods it names are mapped.
      onAssignments: (a) => {
        this.applying = this.applying
          .then(() => this.onAssignments(a))
          .catch((e: Error) => this.log(`error: ${e.message}`));
      },
      onState: (s, d) => this.onLinkState(s, d),
      ...(opts.maxBytesPerTrace ? { maxBytesPerTrace: opts.maxBytesPerTrace } : {}),
    });
  }

  /** Asked at every (re)connect: features are probed once (they load BPF programs), the clock offset each time. */
  private registration(): Register {
    this.features ??= probeFeatures();
    const f = this.features;
    return {
      protocol: PROTOCOL_VERSION,
      node: this.opts.node,
      kernel_release: release(),
      features: Object.entries(f).map(([name, r]) => ({ name, available: r.available, detail: r.reason ?? '' })),
      version: AGENT_VERSION,
      boot_offset: clockOffsetFromNs(monotonicClockOffset().offsetNs),
      incarnation: this.incarnation,
    };
  }

  async start(): Promise<void> {
    if (this.opts.metricsPort !== undefined)
      this.health = await startHealthServer({
        port: this.opts.metricsPort,
        ...(this.opts.metricsHost ? { host: this.opts.metricsHost } : {}),
        registry: this.metrics.registry,
        notReady: () =>
          this.refusal
            ? `refused by the aggregator: ${this.refusal}`
            : this.link.connected
              ? ''
              : `not connected to ${this.opts.server}`,
      });
    this.link.start();
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  /** The port of /healthz, /readyz and /metrics, once listening. */
  get healthPort(): number | undefined {
    const a = this.health?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** Why the aggregator refused this agent, once it did (the agent should exit). */
  get refused(): string | undefined {
    return this.refusal;
  }

  private onLinkState(s: LinkState, detail?: string): void {
    this.metrics.connected.set(s === 'connected' ? 1 : 0);
    if (s === 'connected') {
      this.disconnectedSince = undefined;
      this.log(`connected to ${this.opts.server} as node ${this.opts.node}`);
      // What the aggregator may have missed while away: every trace's status, at once.
      for (const { runner } of this.runners.values()) this.link.send({ status: runner.status() });
    } else if (s === 'refused') {
      this.refusal = detail ?? 'refused';
      this.log(`error: the aggregator refused this agent: ${this.refusal}`);
    } else if (s === 'disconnected') {
      this.disconnectedSince ??= Date.now();
      this.log(`lost the aggregator (${detail ?? 'disconnected'}); reconnecting`);
      if (![...this.runners.values()].some((r) => !r.runner.done)) this.releaseIdle();
    } else if (detail) this.log(detail);
  }

  private specKey(spec: TraceSpec): string {
    // Pods changing does not restart a trace: its kernel scope follows them.
    return encodeMessage('TraceSpec', { ...spec, pods: [] }).toString('hex');
  }

  private async onAssignments(a: Assignments): Promise<void> {
    const wanted = new Map((a.traces ?? []).map((t) => [t.name, t]));
    const removed = a.full ? [...this.runners.keys()].filter((n) => !wanted.has(n)) : (a.removed ?? []);
    for (const name of removed) this.stopTrace(name, 'removed');
    if (!a.full) for (const [name, r] of this.runners) if (!wanted.has(name)) wanted.set(name, r.runner.spec);
    this.opts.pods.setPods([...wanted.values()].flatMap((t) => t.pods ?? []));
    await this.opts.pods.refresh();
    for (const spec of wanted.values()) {
      const key = this.specKey(spec);
      const cur = this.runners.get(spec.name);
      if (cur && cur.key === key) {
        cur.runner.spec.pods = spec.pods ?? [];
        cur.runner.refreshScope();
        continue;
      }
      if (cur) this.stopTrace(spec.name, 'changed');
      this.startTrace(spec, key);
    }
    this.metrics.traces.set([...this.runners.values()].filter((r) => !r.runner.done).length);
    this.metrics.sessions.set(this.sessions.size);
  }

  private startTrace(spec: TraceSpec, key: string): void {
    const queue = this.link.queue(spec.name);
    const runner = new TraceRunner(spec, {
      node: this.opts.node,
      queue,
      pods: this.opts.pods,
      ...(this.nodeNetns ? { nodeNetns: this.nodeNetns } : {}),
      onComplete: (reason) => {
        this.link.send({ status: runner.status() });
        this.link.send({ complete: { trace: spec.name, reason, last_seq: queue.lastSeq } });
        this.log(`trace ${spec.name} complete: ${reason}`);
      },
      onNote: (m) => this.log(`note: ${m}`),
      sessions: this.sessions,
    });
    this.runners.set(spec.name, { runner, key });
    const res = runner.start();
    this.link.send({ attach: res });
    this.log(
      res.ok
        ? `trace ${spec.name}: ${res.probes?.length ?? 0} probe(s) attached`
        : `trace ${spec.name} could not start: ${res.error}`,
    );
    if (res.ok) this.metrics.probes.set({ trace: spec.name }, res.probes?.length ?? 0);
  }

  private stopTrace(name: string, reason: string): void {
    const r = this.runners.get(name);
    if (!r) return;
    if (!r.runner.done) r.runner.finish(reason);
    this.runners.delete(name);
    this.draining.add(name);
    this.metrics.sessions.set(this.sessions.size);
  }

  private tick(): void {
    // The /proc scan is for running traces' pods: none running, nothing to map.
    if (!this.refreshing && [...this.runners.values()].some((r) => !r.runner.done)) {
      this.refreshing = true;
      this.opts.pods
        .refresh()
        .catch((e: Error) => this.log(`pod mapping: ${e.message}`))
        .finally(() => (this.refreshing = false));
    }
    for (const [name, { runner }] of this.runners) {
      if (runner.done) continue;
      runner.refreshScope();
      const { budget } = runner.collectLosses();
      if (budget) {
        this.link.queue(name).addLoss('budget', budget);
        this.metrics.lost.inc({ trace: name, cause: 'budget' }, budget);
      }
      const st = runner.status();
      this.link.send({ status: st });
      this.metrics.ringFill.set({ trace: name }, st.ring_fill);
      this.metrics.buffered.set({ trace: name }, this.link.queue(name).bytes);
    }
    // Finished traces' queues go once the aggregator has everything.
    for (const name of this.queuesToDrop()) if (this.link.dropQueue(name)) this.draining.delete(name);
    if (this.disconnectedSince !== undefined && this.runners.size) {
      const away = Date.now() - this.disconnectedSince;
      if (away > (this.opts.orphanMs ?? 60_000)) {
        this.log(`the aggregator has been unreachable for ${Math.round(away / 1000)} s: stopping every trace`);
        for (const name of [...this.runners.keys()]) this.stopTrace(name, 'aggregator unreachable');
      }
    }
  }

  /**
   * The stream is lost with nothing assigned: nothing of this agent stays in the kernel (every
   * session is stopped; none should be left) and the pod mapping is released (it is rebuilt from
   * the next assignments). Events of finished traces stay queued for the aggregator's return.
   */
  private releaseIdle(): void {
    for (const name of [...this.runners.keys()]) this.stopTrace(name, 'aggregator lost');
    this.opts.pods.clear();
    this.metrics.sessions.set(this.sessions.size);
    this.log(
      `nothing assigned: ${this.sessions.size === 0 ? 'no program of this agent in the kernel' : `${this.sessions.size} session(s) still running`}; pod mapping released`,
    );
  }

  private queuesToDrop(): string[] {
    const done = [...this.runners].filter(([, r]) => r.runner.done).map(([n]) => n);
    for (const n of this.draining) if (!this.runners.has(n)) done.push(n);
    return done;
  }

  /**
   * Stops every trace (kernel programs and links go with their sessions), then waits up to
   * flushMs for the aggregator to acknowledge what is held (reconnecting meanwhile if it is
   * away: it may be restarting), closes, and says what was left unacknowledged, if anything.
   */
  async stop(flushMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const name of [...this.runners.keys()]) this.stopTrace(name, 'agent stopping');
    const until = Date.now() + flushMs;
    while (Date.now() < until && !this.link.allIdle()) await new Promise((r) => setTimeout(r, 50));
    for (const u of this.link.unacknowledged())
      this.log(
        `trace ${u.trace}: ${u.events} event(s) not acknowledged by the aggregator within ${flushMs} ms of stopping: lost`,
      );
    await this.link.stop();
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
  }
}
