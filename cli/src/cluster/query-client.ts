// A client of the aggregator's query API (retrace traces/summary/events, kubectl retrace).
import {
  ChannelCredentials,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  QueryService,
  channelCredentials,
  type EventChunk,
  type EventsRequest,
  type ListTracesResponse,
  type TlsFiles,
  type TraceSummary,
} from '@retrace/events';

const QueryClientCtor = makeGenericClientConstructor(QueryService, 'Query');

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => void;

export class QueryError extends Error {
  constructor(server: string, e: ServiceError) {
    super(
      e.code === 14
        ? `cannot reach the aggregator at ${server}: ${e.details || e.message} (check --server and the TLS flags)`
        : `aggregator at ${server}: ${e.details || e.message}`,
    );
    this.name = 'QueryError';
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
  ) {
    const creds = tls instanceof ChannelCredentials ? tls : channelCredentials(tls);
    this.client = new QueryClientCtor(server, creds, {
      'grpc.max_receive_message_length': 64 << 20,
      ...(serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
    });
  }

  private unary<Req, Res>(name: string, req: Req): Promise<Res> {
    const fn = (this.client as unknown as Record<string, Unary<Req, Res>>)[name] as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, (err, res) => (err ? reject(new QueryError(this.server, err)) : resolve(res as Res)));
    });
  }

  async listTraces(): Promise<TraceSummary[]> {
    return (await this.unary<object, ListTracesResponse>('ListTraces', {})).traces ?? [];
  }

  summary(trace: string): Promise<TraceSummary> {
    return this.unary('GetSummary', { trace });
  }

  /** The trace's events as chunks of the requested format, in order. */
  async *events(req: EventsRequest): AsyncGenerator<Uint8Array> {
    const stream = (
      this.client as unknown as { StreamEvents: (r: EventsRequest) => ClientReadableStream<EventChunk> }
    ).StreamEvents(req);
    try {
      for await (const chunk of stream as AsyncIterable<EventChunk>) yield chunk.data;
    } catch (e) {
      throw new QueryError(this.server, e as ServiceError);
    }
  }

  close(): void {
    this.client.close();
  }
}
