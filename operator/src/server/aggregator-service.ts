// The aggregator as a running service: the agents' gRPC endpoint and the query API on one port,
// health and Prometheus metrics on another. Shared by retrace-aggregator (traces from a file)
// and retrace-operator (traces from the Kubernetes API).
import type { Server } from 'node:http';
import type { ServerCredentials } from '@grpc/grpc-js';
import { AgentLinkService, QueryService, startHealthServer } from '@retrace/events';
import { Aggregator, type AggregatorOptions } from './aggregator.js';
import { aggregatorGrpcServer } from './grpc-server.js';
import { queryHandlers } from './query-server.js';

export interface AggregatorService {
  agg: Aggregator;
  port: number;
  health: Server | undefined;
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
  notReady?: () => string;
}): Promise<AggregatorService> {
  const agg = new Aggregator(o.aggregator);
  const server = aggregatorGrpcServer();
  server.addService(AgentLinkService, { Connect: agg.link.connect });
  server.addService(QueryService, queryHandlers(agg) as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.listen, o.creds, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((e: Error) => {
    agg.close();
    throw new ListenError(o.listen, e.message);
  });
  const health =
    o.metricsPort !== undefined
      ? await startHealthServer({
          port: o.metricsPort,
          registry: agg.metrics.registry,
          notReady: o.notReady ?? (() => ''),
        })
      : undefined;
  return {
    agg,
    port,
    health,
    close: () => {
      server.tryShutdown(() => undefined);
      setTimeout(() => server.forceShutdown(), 2000).unref();
      agg.close();
      health?.close();
    },
  };
}
