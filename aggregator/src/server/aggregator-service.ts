// The aggregator as a running service: the agents' gRPC endpoint and the query API on one port
// (and, for retrace-aggregator, the control API a separate operator drives it with), health and
// Prometheus metrics on another. Shared by retrace-aggregator (traces from a file or a separate
// operator) and retrace-operator (traces from the Kubernetes API, in the same process).
import type { Server } from 'node:http';
import type { ServerCredentials } from '@grpc/grpc-js';
import { AgentLinkService, ControlService, QueryService, startHealthServer } from '@retrace/wire';
import { Aggregator, type AggregatorOptions } from './aggregator.js';
import { ControlServer } from './control-server.js';
import { aggregatorGrpcServer, logTlsRefusals } from './grpc-server.js';
import { QueryServer, type QueryServerOptions } from './query-server.js';

export interface AggregatorService {
  agg: Aggregator;
  port: number;
  health: Server | undefined;
  /** The control API, when served. */
  control: ControlServer | undefined;
  /** The query API (its limits and counters). */
  query: QueryServer;
  /** Flushes the store and stops both servers. */
  close(): void;
}

export class ListenError extends Error {
  constructor(listen: string, detail: string) {
    super(`cannot listen on ${listen}: ${detail}`);
    this.name = 'ListenError';
  }
}

export async function startAggregatorService(o: {
  listen: string;
  creds: ServerCredentials;
  aggregator: AggregatorOptions;
  metricsPort?: number;
  /** Where metrics and health listen (default 0.0.0.0; the flags default it to --listen's host). */
  metricsHost?: string;
  /** The query API's limits and authorizers. */
  query?: QueryServerOptions;
  notReady?: () => string;
  /** Serve retrace.v1.Control (a separate operator sets the traces unless a file does). */
  control?: { tracesFile?: string; clients?: readonly string[] };
  /**
   * Sets the first traces, before agents can connect: an agent reconnecting to a restarted
   * aggregator must not be told to stop what it runs because the traces were not there yet.
   */
  beforeListen?: (agg: Aggregator, control: ControlServer | undefined) => void;
}): Promise<AggregatorService> {
  const agg = new Aggregator(o.aggregator);
  const server = aggregatorGrpcServer();
  server.addService(AgentLinkService, { Connect: agg.link.connect });
  const query = new QueryServer(agg, { ...(o.aggregator.log ? { log: o.aggregator.log } : {}), ...o.query });
  server.addService(QueryService, query.handlers() as never);
  const control = o.control
    ? new ControlServer(agg, {
        storeDir: o.aggregator.storeDir,
        ...(o.control.tracesFile ? { tracesFile: o.control.tracesFile } : {}),
        ...(o.control.clients ? { clients: o.control.clients } : {}),
        ...(o.aggregator.log ? { log: o.aggregator.log } : {}),
      })
    : undefined;
  if (control) server.addService(ControlService, control.handlers() as never);
  o.beforeListen?.(agg, control);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.listen, o.creds, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((e: Error) => {
    agg.close();
    throw new ListenError(o.listen, e.message);
  });
  logTlsRefusals(server, o.aggregator.log ?? ((m) => process.stderr.write(`${m}\n`)));
  const health =
    o.metricsPort !== undefined
      ? await startHealthServer({
          port: o.metricsPort,
          ...(o.metricsHost ? { host: o.metricsHost } : {}),
          registry: agg.metrics.registry,
          notReady: o.notReady ?? (() => ''),
        })
      : undefined;
  return {
    agg,
    port,
    health,
    control,
    query,
    close: () => {
      server.tryShutdown(() => undefined);
      setTimeout(() => server.forceShutdown(), 2000).unref();
      agg.close();
      health?.close();
    },
  };
}
