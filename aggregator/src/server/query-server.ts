// The aggregator's query API: list traces, a trace's summary, and its stored journeys streamed
// as retis-compatible JSON lines (one journey per line) or pcap-ng.
//
// Memory stays bounded whatever the trace's size or the client's speed: a stream produces only
// while its bytes in flight (written, not yet taken by HTTP/2) are under --query-inflight-bytes,
// stops reading the store when the client cancels, and at most --max-queries streams run at once
// (RESOURCE_EXHAUSTED beyond); a client that takes nothing for --query-stall-ms loses its stream
// (DEADLINE_EXCEEDED), so that a connected client that never reads cannot hold the slots. So the query API holds at most about max-queries x (in-flight
// bound + one store segment read + one chunk). Each call is authorized first (query-authorizer.ts).
import {
  status,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import {
  PcapngWriter,
  eventJsonSchema,
  formatEvent,
  probeInterfaceName,
  stringifyEvent,
  type EventChunk,
  type EventsRequest,
  type ListTracesResponse,
  type SummaryRequest,
  type TraceSummary,
} from '@retrace/events';
import type { Aggregator } from './aggregator.js';
import { CallWriter } from './call-writer.js';
import { DEFAULT_INFLIGHT_BYTES, DEFAULT_MAX_QUERIES, DEFAULT_STALL_MS } from './query-limits.js';
import {
  CertificateRoleAuthorizer,
  callerOf,
  describeCaller,
  type Decision,
  type QueryAuthorizer,
  type QueryCaller,
  type Refusal,
} from './query-authorizer.js';

/** What the query API reads from the aggregator. */
export type QueryTarget = Pick<Aggregator, 'traceNames' | 'summary' | 'journeys'>;

/** Journeys are gathered into messages of at most this size (or a quarter of the in-flight bound). */
const CHUNK_BYTES = 256 << 10;

export interface QueryServerOptions {
  /** Event streams served at once (--max-queries). */
  maxQueries?: number;
  /** Bytes in flight per stream (--query-inflight-bytes). */
  maxInFlightBytes?: number;
  /** A stream whose client takes nothing for this long is ended (--query-stall-ms; 0: never). */
  stallMs?: number;
  /** Asked in turn, first refusal wins; default: agents' certificates refused (the chart's name). */
  authorizers?: readonly QueryAuthorizer[];
  log?: (msg: string) => void;
}

/** A query option out of range. */
export class QueryOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryOptionError';
  }
}

/** How a stream ended: done, cancelled by the client, or an error. */
export interface EndedQuery {
  trace: string;
  journeys: number;
  reason: 'done' | 'cancelled' | 'stalled' | 'error';
  peakInFlightBytes: number;
}

/** A stream running now. */
export interface ActiveQuery {
  trace: string;
  /** Journeys read from the store so far. */
  journeys: number;
  /** Still reading the store (false: all sent to grpc-js, the call ends once the client has it). */
  reading: boolean;
  inFlightBytes: number;
  /** Waiting for the client to read before producing more. */
  waiting: boolean;
}

export interface QueryStats {
  /** Event streams holding a slot now. */
  active: number;
  /** What each is doing. */
  streams: ActiveQuery[];
  /** Reads of the store open now (each stream's journeys()). */
  readers: number;
  /** Streams refused: too many at once. */
  refusedBusy: number;
  /** Calls refused by an authorizer. */
  refusedAuth: number;
  /** Bytes in flight now, over all streams. */
  inFlightBytes: number;
  /** The most bytes ever in flight in one stream. */
  peakInFlightBytes: number;
  /** The last streams that ended, newest last (at most 32). */
  ended: EndedQuery[];
}

type GrpcError = Error & { code: status; details: string };

const grpcError = (code: status, details: string): GrpcError => Object.assign(new Error(details), { code, details });

const refusalCode = (r: Refusal): status =>
  r.kind === 'unauthenticated'
    ? status.UNAUTHENTICATED
    : r.kind === 'unavailable'
      ? status.UNAVAILABLE
      : status.PERMISSION_DENIED;

export class QueryServer {
  readonly maxQueries: number;
  readonly maxInFlightBytes: number;
  readonly stallMs: number;
  private readonly authorizers: readonly QueryAuthorizer[];
  private readonly log: (m: string) => void;
  private readonly streams = new Map<CallWriter, { trace: string; journeys: number; reading: boolean }>();
  private active = 0;
  private readers = 0;
  private refusedBusy = 0;
  private refusedAuth = 0;
  private peak = 0;
  private readonly ended: EndedQuery[] = [];

  constructor(
    private readonly agg: QueryTarget,
    opts: QueryServerOptions = {},
  ) {
    this.maxQueries = opts.maxQueries ?? DEFAULT_MAX_QUERIES;
    this.maxInFlightBytes = opts.maxInFlightBytes ?? DEFAULT_INFLIGHT_BYTES;
    this.stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
    if (!Number.isInteger(this.stallMs) || this.stallMs < 0)
      throw new QueryOptionError(`--query-stall-ms must be a whole number of milliseconds >= 0, got ${this.stallMs}`);
    if (!Number.isInteger(this.maxQueries) || this.maxQueries < 1)
      throw new QueryOptionError(`--max-queries must be a whole number >= 1, got ${this.maxQueries}`);
    if (!Number.isInteger(this.maxInFlightBytes) || this.maxInFlightBytes < 4096)
      throw new QueryOptionError(
        `--query-inflight-bytes must be a whole number of bytes >= 4096, got ${this.maxInFlightBytes}`,
      );
    this.authorizers = opts.authorizers ?? [new CertificateRoleAuthorizer()];
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
  }

  stats(): QueryStats {
    let inFlight = 0;
    const streams: ActiveQuery[] = [];
    for (const [w, q] of this.streams) {
      inFlight += w.inFlight;
      streams.push({ ...q, inFlightBytes: w.inFlight, waiting: w.waiting });
    }
    return {
      active: this.active,
      streams,
      readers: this.readers,
      refusedBusy: this.refusedBusy,
      refusedAuth: this.refusedAuth,
      inFlightBytes: inFlight,
      peakInFlightBytes: this.peak,
      ended: [...this.ended],
    };
  }

  /** Why `caller` may not read `trace` (or use the API at all, without `trace`); undefined: it may. */
  private async refusal(caller: QueryCaller, trace?: string): Promise<Refusal | undefined> {
    for (const a of this.authorizers) {
      let d: Decision = await a.admit?.(caller);
      if (!d && trace !== undefined) d = await a.trace?.(caller, trace);
      if (d) return d;
    }
    return undefined;
  }

  /** Refuses the call (logged, with the caller named) when an authorizer says no. */
  private async authorize(
    call: { getAuthContext?: ServerUnaryCall<unknown, unknown>['getAuthContext']; metadata: Metadata },
    what: string,
    trace?: string,
  ): Promise<{ caller: QueryCaller; error?: GrpcError }> {
    const caller = callerOf(call);
    let r: Refusal | undefined;
    try {
      r = await this.refusal(caller, trace);
    } catch (e) {
      r = { kind: 'unavailable', reason: `the authorizer failed: ${(e as Error).message}` };
    }
    if (!r) return { caller };
    this.refusedAuth++;
    const details = `${what} refused for ${describeCaller(caller)}: ${r.reason}`;
    this.log(details);
    return { caller, error: grpcError(refusalCode(r), details) };
  }

  handlers(): Record<string, unknown> {
    return {
      ListTraces: (call: ServerUnaryCall<object, ListTracesResponse>, cb: sendUnaryData<ListTracesResponse>) => {
        void this.listTraces(call).then(
          (r) => cb(null, r),
          (e: GrpcError) => cb(e, null),
        );
      },
      GetSummary: (call: ServerUnaryCall<SummaryRequest, TraceSummary>, cb: sendUnaryData<TraceSummary>) => {
        void this.getSummary(call).then(
          (r) => cb(null, r),
          (e: GrpcError) => cb(e, null),
        );
      },
      StreamEvents: (call: ServerWritableStream<EventsRequest, EventChunk>) => {
        void this.streamEvents(call);
      },
    };
  }

  /** The traces this caller may read (others are left out, as if not held). */
  private async listTraces(call: ServerUnaryCall<object, ListTracesResponse>): Promise<ListTracesResponse> {
    const { caller, error } = await this.authorize(call, 'listing traces');
    if (error) throw error;
    const traces: TraceSummary[] = [];
    for (const t of this.agg.traceNames()) {
      const r = await this.refusal(caller, t).catch((e: Error) => {
        throw grpcError(status.UNAVAILABLE, `listing traces: the authorizer failed: ${e.message}`);
      });
      if (!r) traces.push(this.agg.summary(t));
      else if (r.kind !== 'denied') throw grpcError(refusalCode(r), `listing traces: ${r.reason}`);
    }
    return { traces };
  }

  private async getSummary(call: ServerUnaryCall<SummaryRequest, TraceSummary>): Promise<TraceSummary> {
    const t = call.request.trace;
    // Refused before NOT_FOUND: whether a trace one may not read exists is not told either.
    const { error } = await this.authorize(call, `the summary of ${t}`, t);
    if (error) throw error;
    if (!this.agg.traceNames().includes(t))
      throw grpcError(status.NOT_FOUND, `no trace ${t}: see \`retrace traces\` for the ones held`);
    return this.agg.summary(t);
  }

  // Errors are emitted, not passed to destroy(): grpc-js sends the status on 'error', while a
  // destroyed stream ends without one and the client waits forever.
  private async streamEvents(call: ServerWritableStream<EventsRequest, EventChunk>): Promise<void> {
    const req = call.request;
    const fail = (e: GrpcError): void => {
      call.emit('error', e);
    };
    const { error } = await this.authorize(call, `the events of ${req.trace}`, req.trace);
    // Cancelled while authorizing: grpc-js has said so already and would drop what is written.
    if (call.cancelled) return;
    if (error) return fail(error);
    if (!this.agg.traceNames().includes(req.trace))
      return fail(grpcError(status.NOT_FOUND, `no trace ${req.trace}: see \`retrace traces\``));
    const format = req.format || 'json';
    if (format !== 'json' && format !== 'pcapng')
      return fail(grpcError(status.INVALID_ARGUMENT, `unknown format ${format}: json or pcapng`));
    if (this.active >= this.maxQueries) {
      this.refusedBusy++;
      this.log(`events of ${req.trace} refused: ${this.maxQueries} streams already running (--max-queries)`);
      return fail(
        grpcError(
          status.RESOURCE_EXHAUSTED,
          `the aggregator is already streaming ${this.active} ${this.active === 1 ? 'query' : 'queries'}, ` +
            'the most it serves at once ' +
            `(--max-queries ${this.maxQueries}): try again when one ends, or start it with a larger --max-queries`,
        ),
      );
    }
    // The slot is held until the call is over: until then its bytes in flight are still held.
    this.active++;
    const w = new CallWriter(call, this.maxInFlightBytes, this.stallMs);
    const progress = { trace: req.trace, journeys: 0, reading: true };
    this.streams.set(w, progress);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.active--;
      this.streams.delete(w);
    };
    call.once('cancelled', release);
    call.once('close', release);
    call.once('finish', release);

    // A few messages fit in flight, so HTTP/2 always has the next one while the client reads.
    const chunkBytes = Math.min(CHUNK_BYTES, Math.floor(this.maxInFlightBytes / 4));
    let pending: Buffer[] = [];
    let size = 0;
    const flush = async (): Promise<boolean> => {
      if (!size) return !w.stopped;
      const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
      pending = [];
      size = 0;
      return w.write(data);
    };
    /** False once the client is gone: stop reading. */
    const push = async (b: Buffer): Promise<boolean> => {
      // A message stays within chunkBytes (only a journey larger than that goes alone).
      if (size && size + b.length > chunkBytes && !(await flush())) return false;
      pending.push(b);
      size += b.length;
      return size >= chunkBytes ? flush() : !w.stopped;
    };
    const filter = {
      ...(req.node ? { node: req.node } : {}),
      ...(req.pod ? { pod: req.pod } : {}),
      ...(req.drop_reason ? { dropReason: req.drop_reason } : {}),
    };
    let journeys = 0;
    let reason: EndedQuery['reason'] = 'done';
    this.readers++;
    try {
      const pcap =
        format === 'pcapng'
          ? new PcapngWriter({ application: 'retrace aggregator', schema: JSON.stringify(eventJsonSchema()) })
          : undefined;
      // Leaving the loop (break, throw) closes the store's reader too.
      for (const journey of this.agg.journeys(req.trace, filter)) {
        progress.journeys = ++journeys;
        let more: boolean;
        if (!pcap) more = await push(Buffer.from(`${stringifyEvent(journey)}\n`));
        else {
          for (const ev of journey) {
            if (!ev.kernel) continue;
            // One interface per node and probe: Wireshark shows where each copy was seen.
            pcap.addEvent(
              ev,
              `${ev.k8s?.node ?? '?'}/${probeInterfaceName(ev) ?? '?'}`,
              ev.journey?.cluster_ts ?? ev.common?.timestamp ?? 0n,
              formatEvent(ev, { format: 'single-line' }) +
                (ev.journey ? ` [journey ${ev.journey.id} #${ev.journey.idx}]` : ''),
            );
          }
          more = await push(pcap.drain());
        }
        if (!more) break;
      }
      if ((await flush()) && !w.stopped) call.end();
      if (w.stopped === 'cancelled') reason = 'cancelled';
      if (w.stopped === 'stalled') {
        reason = 'stalled';
        this.log(
          `events of ${req.trace}: the client took nothing for ${this.stallMs} ms; ended after ${journeys} journeys (--query-stall-ms)`,
        );
      }
    } catch (e) {
      reason = 'error';
      if (!w.stopped) fail(grpcError(status.INTERNAL, `reading ${req.trace}: ${(e as Error).message}`));
    } finally {
      progress.reading = false;
      this.readers--;
      if (w.peak > this.peak) this.peak = w.peak;
      this.ended.push({ trace: req.trace, journeys, reason, peakInFlightBytes: w.peak });
      if (this.ended.length > 32) this.ended.shift();
    }
  }
}

/** The query API's handlers (for addService), with default limits and authorization. */
export function queryHandlers(agg: QueryTarget, opts: QueryServerOptions = {}): Record<string, unknown> {
  return new QueryServer(agg, opts).handlers();
}
