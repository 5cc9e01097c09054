// The controller's AggregatorPort over the network: retrace-operator --aggregator HOST:PORT
// drives a separate retrace-aggregator through its control API (retrace.v1.Control).
//
// - setTraces keeps the latest set and pushes it, retrying with backoff while the aggregator
//   cannot be reached; the latest set always wins (a retry sends the newest one).
// - Nothing is pushed until the operator has read and reconciled every trace once
//   (`takeOver`): until then the aggregator keeps running what it had, so an operator that
//   restarts does not stop every trace and start them again one by one.
// - summary and connectedNodes are synchronous for the controller: they read a cache that a
//   GetState call refreshes on an interval (the summaries of the traces the controller asked
//   about lately; every trace held on the first call).
// - When the aggregator reports another revision than the one pushed (it restarted without its
//   store, or was given another set), the set is pushed again.
import { createHash } from 'node:crypto';
import { makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import {
  encodeMessage,
  type ControlState,
  type GetStateRequest,
  type SetTracesRequest,
  type SetTracesResponse,
  type TraceSpec,
  type TraceSummary,
} from '@retrace/events';
import { ControlService, channelCredentials, type TlsFiles } from '@retrace/wire';
import type { AggregatorPort } from './controller.js';

const ControlClientCtor = makeGenericClientConstructor(ControlService, 'Control');

type Unary<Req, Res> = (
  req: Req,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res?: Res) => void,
) => void;

/** A failed control call, said as what was wrong and what to check. */
export class ControlError extends Error {
  readonly code: number;
  constructor(address: string, e: ServiceError, tls: TlsFiles, timeoutMs: number) {
    super(explain(address, e, tls, timeoutMs));
    this.name = 'ControlError';
    this.code = e.code;
  }
}

function explain(address: string, e: ServiceError, tls: TlsFiles, timeoutMs: number): string {
  // grpc-js wraps the cause: "No connection established. Last error: <cause>. Resolution note: ".
  const d = (e.details || e.message)
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\.?\s*Resolution note:[\s\S]*$/, '')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .trim();
  const at = `the aggregator at ${address}`;
  switch (e.code) {
    case status.UNAVAILABLE:
      if (/wrong version number/.test(d))
        return (
          `${at} does not speak TLS (was it started with --insecure?): start it with --ca, --cert and ` +
          '--key, or give the operator --insecure too (local tests only)'
        );
      if (/ECONNREFUSED/.test(d))
        return (
          `cannot reach ${at}: connection refused (${d}). Is retrace-aggregator running, and is ` +
          '--aggregator its host and the port it listens on?'
        );
      if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|resolution failed|Name resolution/i.test(d))
        return `cannot reach ${at}: its host name does not resolve (${d}). Check --aggregator.`;
      if (/altname|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME/i.test(d))
        return (
          `${at} presents a certificate that does not name that host (${d}): give --aggregator ` +
          'a name its certificate holds (the Service name the chart puts in it)'
        );
      if (
        /self[- ]signed|unable to verify|unable to get (local )?issuer|UNABLE_TO_VERIFY|DEPTH_ZERO|SELF_SIGNED|certificate chain/i.test(
          d,
        )
      )
        return (
          `${at} presents a certificate the CA in --ca ${tls.ca ?? '(none)'} did not sign (${d}): ` +
          "give the CA that signed the aggregator's certificate"
        );
      if (tls.insecure)
        return (
          `cannot reach ${at}: ${d}. This operator speaks plain text (--insecure): the aggregator must ` +
          'run with --insecure too, or give the operator --ca, --cert and --key'
        );
      // A refused client certificate shows as a reset or a bare "Failed to connect" (with TLS 1.3
      // the server says why only after the client's side of the handshake is done).
      return (
        `cannot reach ${at}: ${d}. If --aggregator is right, the aggregator refused the TLS handshake: ` +
        `the certificate in --cert ${tls.cert ?? '(none)'} must be signed by the CA it trusts (its --ca)`
      );
    case status.DEADLINE_EXCEEDED:
      return `${at} did not answer within ${timeoutMs} ms (${d})`;
    case status.UNIMPLEMENTED:
      return (
        `${address} does not serve the control API (retrace.v1.Control): --aggregator must name a ` +
        `retrace-aggregator of this version, not an operator's or an agent's port (${d})`
      );
    case status.FAILED_PRECONDITION:
    case status.PERMISSION_DENIED:
      return `${at} refused: ${d}`;
    default:
      return `${at}: ${d}`;
  }
}

/** The control API's client (what retrace-operator --aggregator calls). */
export class ControlClient {
  private readonly client: Client;

  constructor(
    readonly address: string,
    private readonly tls: TlsFiles,
    private readonly timeoutMs = 5000,
  ) {
    this.client = new ControlClientCtor(address, channelCredentials(tls), {
      'grpc.max_receive_message_length': 64 << 20,
      // Back off quickly from a restarting aggregator: the operator retries on its own schedule.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
  }

  private unary<Req, Res>(name: string, req: Req): Promise<Res> {
    const fn = (this.client as unknown as Record<string, Unary<Req, Res>>)[name] as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, { deadline: Date.now() + this.timeoutMs }, (err, res) =>
        err ? reject(new ControlError(this.address, err, this.tls, this.timeoutMs)) : resolve(res as Res),
      );
    });
  }

  setTraces(req: SetTracesRequest): Promise<SetTracesResponse> {
    return this.unary('SetTraces', req);
  }

  getState(req: GetStateRequest): Promise<ControlState> {
    return this.unary('GetState', req);
  }

  close(): void {
    this.client.close();
  }
}

/** A set of traces' revision: the same set always has the same one (whichever operator sends it). */
export function tracesRevision(specs: TraceSpec[]): string {
  const bytes = encodeMessage('SetTracesRequest', { traces: specs, revision: '', operator: '' });
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export interface RemoteAggregatorOptions {
  /** host:port written into traces' status.results.aggregator (default: the address dialled). */
  advertise?: string;
  /** Who pushes (the aggregator logs it). */
  identity?: string;
  /** GetState period (default 1 s). */
  refreshMs?: number;
  /** First wait after a failed SetTraces (default 500 ms), doubling up to maxBackoffMs (30 s). */
  retryMs?: number;
  maxBackoffMs?: number;
  /** A trace's summary stops being refreshed this long after the controller last asked (10 min). */
  forgetMs?: number;
  log?: (msg: string) => void;
}

export class RemoteAggregator implements AggregatorPort {
  readonly address: string;
  private nodes: string[] = [];
  private readonly summaries = new Map<string, TraceSummary>();
  /** Traces whose summary the controller asked for, and when it last did. */
  private readonly wanted = new Map<string, number>();
  private fetchAll = true;
  private fetchedAllAt = 0;
  private latest: TraceSpec[] = [];
  private latestRevision = tracesRevision([]);
  /** The revision the aggregator runs, as last heard (undefined: not heard yet). */
  private remoteRevision: string | undefined;
  private pushedRevision: string | undefined;
  private owner = false;
  private pushing = false;
  private refreshing = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private pushError = '';
  private refreshError = '';
  private reached = false;
  private readonly reachedWaiters: (() => void)[] = [];
  private closed = false;
  private readonly log: (m: string) => void;

  constructor(
    private readonly client: Pick<ControlClient, 'setTraces' | 'getState' | 'close' | 'address'>,
    private readonly opts: RemoteAggregatorOptions = {},
  ) {
    this.address = opts.advertise ?? client.address;
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
  }

  // --- AggregatorPort ---------------------------------------------------------------------------

  setTraces(specs: TraceSpec[]): void {
    this.latest = specs;
    this.latestRevision = tracesRevision(specs);
    if (this.owner) this.push();
  }

  summary(trace: string): TraceSummary | undefined {
    const first = !this.wanted.has(trace);
    this.wanted.set(trace, Date.now());
    if (first && !this.summaries.has(trace)) this.refreshSoon();
    return this.summaries.get(trace);
  }

  connectedNodes(): string[] {
    return this.nodes;
  }

  // --- life ---------------------------------------------------------------------------------------

  /** Starts refreshing; resolves once the aggregator answered (failures are logged meanwhile). */
  start(): Promise<void> {
    void this.refresh();
    return new Promise((resolve) => (this.reached ? resolve() : this.reachedWaiters.push(resolve)));
  }

  /**
   * The operator has read and reconciled every trace: from now on its set is the aggregator's
   * (pushed now, then on every change). Before this, the aggregator keeps what it runs.
   */
  takeOver(): void {
    this.owner = true;
    this.push();
  }

  /** Empty while the aggregator answers and took the latest set; otherwise what is wrong. */
  problem(): string {
    return this.pushError || this.refreshError;
  }

  /** The revision the aggregator confirmed last (tests). */
  get confirmedRevision(): string | undefined {
    return this.pushedRevision;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.refreshTimer);
    this.client.close();
  }

  // --- pushing --------------------------------------------------------------------------------------

  private push(): void {
    if (this.pushing || this.closed) return;
    this.pushing = true;
    void this.pushLoop().finally(() => {
      this.pushing = false;
    });
  }

  private async pushLoop(): Promise<void> {
    let wait = this.opts.retryMs ?? 500;
    while (!this.closed && this.owner && this.pushedRevision !== this.latestRevision) {
      // The aggregator already runs this very set (an operator restarted): nothing to send.
      if (this.remoteRevision === this.latestRevision) {
        this.pushedRevision = this.latestRevision;
        this.log(
          `the aggregator at ${this.client.address} already runs these traces (revision ${this.latestRevision}): ` +
            `${this.latest.map((t) => t.name).join(', ') || 'none'}`,
        );
        break;
      }
      const revision = this.latestRevision;
      const traces = this.latest;
      try {
        await this.client.setTraces({ traces, revision, operator: this.opts.identity ?? '' });
        this.pushedRevision = revision;
        this.remoteRevision = revision;
        this.log(
          `traces set at ${this.client.address} (revision ${revision}): ${traces.map((t) => t.name).join(', ') || 'none'}`,
        );
        if (this.pushError) this.log(`the aggregator at ${this.client.address} took the traces again`);
        this.pushError = '';
        wait = this.opts.retryMs ?? 500;
      } catch (e) {
        const msg = `cannot set the traces: ${(e as Error).message}`;
        if (msg !== this.pushError) this.log(`${msg} (retrying with backoff; the latest set is sent)`);
        this.pushError = msg;
        await new Promise((r) => setTimeout(r, wait).unref());
        wait = Math.min(wait * 2, this.opts.maxBackoffMs ?? 30_000);
      }
    }
  }

  // --- refreshing -----------------------------------------------------------------------------------

  private refreshSoon(): void {
    if (this.refreshing || this.closed || !this.reached) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 20);
    this.refreshTimer.unref();
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    this.refreshing = true;
    const now = Date.now();
    const forget = this.opts.forgetMs ?? 600_000;
    for (const [name, at] of this.wanted)
      if (now - at > forget) {
        this.wanted.delete(name);
        this.summaries.delete(name);
      }
    // What the first full fetch brought and nobody asked for since goes too.
    if (this.fetchedAllAt && now - this.fetchedAllAt > forget) {
      for (const name of this.summaries.keys()) if (!this.wanted.has(name)) this.summaries.delete(name);
      this.fetchedAllAt = 0;
    }
    const all = this.fetchAll;
    const names = [...this.wanted.keys()];
    try {
      const st = await this.client.getState({ traces: all ? [] : names, all_traces: all });
      this.nodes = st.nodes ?? [];
      const got = new Map((st.summaries ?? []).map((s) => [s.trace, s]));
      if (all) {
        this.summaries.clear();
        for (const [name, s] of got) this.summaries.set(name, s);
        this.fetchAll = false;
        this.fetchedAllAt = now;
      } else
        for (const name of names) {
          const s = got.get(name);
          if (s) this.summaries.set(name, s);
          else this.summaries.delete(name);
        }
      this.heard(st);
      if (this.refreshError) this.log(`the aggregator at ${this.client.address} answers again`);
      this.refreshError = '';
      if (!this.reached) {
        this.reached = true;
        this.log(
          `aggregator at ${this.client.address}: ${this.nodes.length} agent(s) connected, traces from ` +
            `${st.source || 'none'}${st.traces?.length ? ` (${st.traces.join(', ')})` : ''}`,
        );
        for (const w of this.reachedWaiters.splice(0)) w();
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.refreshError) this.log(`${msg} (trying again every ${this.opts.refreshMs ?? 1000} ms)`);
      this.refreshError = msg;
    } finally {
      this.refreshing = false;
    }
    if (this.closed) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), this.opts.refreshMs ?? 1000);
    this.refreshTimer.unref();
  }

  private heard(st: ControlState): void {
    this.remoteRevision = st.revision;
    // The aggregator no longer runs what it took (it restarted without its store, or someone
    // else set traces): ours again.
    if (this.owner && this.pushedRevision !== undefined && st.revision !== this.pushedRevision && !this.pushing) {
      this.log(
        `the aggregator at ${this.client.address} runs ${st.revision ? `revision ${st.revision}` : `traces from ${st.source || 'nowhere'}`}, ` +
          `not ${this.pushedRevision}: setting the traces again`,
      );
      this.pushedRevision = undefined;
      this.push();
    }
  }
}
