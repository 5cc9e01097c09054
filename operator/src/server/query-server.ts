// The aggregator's query API: list traces, a trace's summary, and its stored journeys streamed
// as retis-compatible JSON lines (one journey per line) or pcap-ng.
import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
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

const CHUNK_BYTES = 256 << 10;

export function queryHandlers(agg: Aggregator): Record<string, unknown> {
  return {
    ListTraces: (_call: ServerUnaryCall<object, ListTracesResponse>, cb: sendUnaryData<ListTracesResponse>) => {
      cb(null, { traces: agg.traceNames().map((t) => agg.summary(t)) });
    },
    GetSummary: (call: ServerUnaryCall<SummaryRequest, TraceSummary>, cb: sendUnaryData<TraceSummary>) => {
      const t = call.request.trace;
      if (!agg.traceNames().includes(t))
        return cb({ code: status.NOT_FOUND, details: `no trace ${t}: see \`retrace traces\` for the ones held` }, null);
      cb(null, agg.summary(t));
    },
    StreamEvents: (call: ServerWritableStream<EventsRequest, EventChunk>) => {
      void streamEvents(agg, call);
    },
  };
}

// Errors are emitted, not passed to destroy(): grpc-js sends the status on 'error', while a
// destroyed stream ends without one and the client waits forever.
async function streamEvents(agg: Aggregator, call: ServerWritableStream<EventsRequest, EventChunk>): Promise<void> {
  const req = call.request;
  if (!agg.traceNames().includes(req.trace)) {
    call.emit(
      'error',
      Object.assign(new Error(`no trace ${req.trace}`), {
        code: status.NOT_FOUND,
        details: `no trace ${req.trace}: see \`retrace traces\``,
      }),
    );
    return;
  }
  const format = req.format || 'json';
  if (format !== 'json' && format !== 'pcapng') {
    call.emit(
      'error',
      Object.assign(new Error('bad format'), {
        code: status.INVALID_ARGUMENT,
        details: `unknown format ${format}: json or pcapng`,
      }),
    );
    return;
  }
  let pending: Buffer[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (!size) return;
    const data = Buffer.concat(pending);
    pending = [];
    size = 0;
    if (!call.write({ data })) await new Promise<void>((r) => call.once('drain', () => r()));
  };
  const push = async (b: Buffer): Promise<void> => {
    pending.push(b);
    size += b.length;
    if (size >= CHUNK_BYTES) await flush();
  };
  const filter = {
    ...(req.node ? { node: req.node } : {}),
    ...(req.pod ? { pod: req.pod } : {}),
    ...(req.drop_reason ? { dropReason: req.drop_reason } : {}),
  };
  try {
    if (format === 'json') {
      for (const journey of agg.journeys(req.trace, filter)) await push(Buffer.from(`${stringifyEvent(journey)}\n`));
    } else {
      const w = new PcapngWriter({ application: 'retrace aggregator', schema: JSON.stringify(eventJsonSchema()) });
      for (const journey of agg.journeys(req.trace, filter)) {
        for (const ev of journey) {
          if (!ev.kernel) continue;
          // One interface per node and probe: Wireshark shows where each copy was seen.
          w.addEvent(
            ev,
            `${ev.k8s?.node ?? '?'}/${probeInterfaceName(ev) ?? '?'}`,
            ev.journey?.cluster_ts ?? ev.common?.timestamp ?? 0n,
            formatEvent(ev, { format: 'single-line' }) +
              (ev.journey ? ` [journey ${ev.journey.id} #${ev.journey.idx}]` : ''),
          );
        }
        await push(w.drain());
      }
    }
    await flush();
    call.end();
  } catch (e) {
    call.emit('error', Object.assign(e as Error, { code: status.INTERNAL, details: (e as Error).message }));
  }
}
