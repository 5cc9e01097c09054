// A client of the aggregator's query API (retrace traces/summary/events, kubectl retrace).
// Events are handed on as they arrive, one message at a time: the caller's loop pulls the next
// only when it is done with the last, and grpc-js stops reading (HTTP/2 flow control then holds
// the aggregator back) while a few messages wait, so neither side gathers a whole trace.
import {
  ChannelCredentials,
  Metadata,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { type EventChunk, type EventsRequest, type ListTracesResponse, type TraceSummary } from '@retrace/events';
import { QueryService, channelCredentials, type TlsFiles } from '@retrace/wire';

const QueryClientCtor = makeGenericClientConstructor(QueryService, 'Query');

type Unary<Req, Res> = (req: Req, md: Metadata, cb: (err: ServiceError | null, res?: Res) => void) => void;

export interface QueryAuth {
  /**
   * A bearer token (a Kubernetes ServiceAccount's, or any the API server accepts): an aggregator
   * run with --query-authz kubernetes checks the reader's RBAC on each trace as this user.
   * Default: $RETRACE_TOKEN (a token is a secret: an environment variable keeps it out of `ps`).
   */
  token?: string;
  /** Appended to an UNAUTHENTICATED refusal: how this caller could be known. */
  hint?: string;
}

export class QueryError extends Error {
  /** The gRPC status code (PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...). */
  readonly code: number;

  constructor(server: string, e: ServiceError, hint?: string) {
    super(
      e.code === 14
        ? `cannot reach the aggregator at ${server}: ${e.details || e.message} (check --server and the TLS flags)`
        : `aggregator at ${server}: ${e.details || e.message}${e.code === 16 && hint ? ` (${hint})` : ''}`,
    );
    this.name = 'QueryError';
    this.code = e.code;
  }
}

export class QueryClient {
  private readonly client: Client;

  /**
   * `tls`: certificate files, or credentials made from PEM already in memory (a Kubernetes
   * Secret). `serverName`: the name the aggregator's certificate carries, when `server` is another
   * address for it (a port-forward, a node port).
   */
  constructor(
    private readonly server: string,
    tls: TlsFiles | ChannelCredentials,
    serverName?: string,
    private readonly auth: QueryAuth = process.env.RETRACE_TOKEN ? { token: process.env.RETRACE_TOKEN } : {},
  ) {
    const creds = tls instanceof ChannelCredentials ? tls : channelCredentials(tls);
    this.client = new QueryClientCtor(server, creds, {
      'grpc.max_receive_message_length': 64 << 20,
      ...(serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
    });
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.auth.token) md.set('authorization', `Bearer ${this.auth.token}`);
    return md;
  }

  private unary<Req, Res>(name: string, req: Req): Promise<Res> {
    const fn = (this.client as unknown as Record<string, Unary<Req, Res>>)[name] as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, this.metadata(), (err, res) =>
        err ? reject(new QueryError(this.server, err, this.auth.hint)) : resolve(res as Res),
      );
    });
  }

  async listTraces(): Promise<TraceSummary[]> {
    return (await this.unary<object, ListTracesResponse>('ListTraces', {})).traces ?? [];
  }

  summary(trace: string): Promise<TraceSummary> {
    return this.unary('GetSummary', { trace });
  }

  /**
   * The trace's events as chunks of the requested format, in order, each read when the caller
   * asks for it. A caller that stops early (break, an error) cancels the query: the aggregator
   * stops reading the trace.
   */
  async *events(req: EventsRequest): AsyncGenerator<Uint8Array> {
    const stream = (
      this.client as unknown as {
        StreamEvents: (r: EventsRequest, md: Metadata) => ClientReadableStream<EventChunk>;
      }
    ).StreamEvents(req, this.metadata());
    let ended = false;
    try {
      for await (const chunk of stream as AsyncIterable<EventChunk>) yield chunk.data;
      ended = true;
    } catch (e) {
      ended = true;
      throw new QueryError(this.server, e as ServiceError, this.auth.hint);
    } finally {
      if (!ended) stream.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}
