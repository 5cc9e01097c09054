#!/usr/bin/env -S node --max-semi-space-size=32
// (A larger young generation: events wait in the sorter for the lateness window, and with the
// default most of them were copied twice and promoted before they died; about 8% of the CPU.)
// retrace-aggregator: the agents' gRPC endpoint, the query API and the control API on one port,
// with health and Prometheus metrics on another. Its traces come either from --traces FILE
// (re-read on SIGHUP; the control API then refuses SetTraces) or, without it, from a separate
// retrace-operator through the control API (the last set kept in the store across restarts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { flagHelpers, type FlagHelpers } from '@retrace/events';
import { AGGREGATOR_FLAGS, AGGREGATOR_USAGE, aggregatorServiceOptions } from '../server/aggregator-flags.js';
import { ListenError, startAggregatorService } from '../server/aggregator-service.js';
import { certificateNames, type ControlServer } from '../server/control-server.js';
import { readTraceFile, TraceFileError } from '../server/trace-file.js';

const USAGE = `usage: retrace-aggregator ${AGGREGATOR_USAGE} [--traces FILE] [--control-client NAME ...]`;

const flags = flagHelpers('retrace-aggregator', USAGE);
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: FlagHelpers['fail'] = flags.fail;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        ...AGGREGATOR_FLAGS,
        traces: { type: 'string' },
        'control-client': { type: 'string', multiple: true },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const opts = aggregatorServiceOptions(args, fail, flags.num);
  // Who may drive this aggregator: --control-client names, or by default the names of its own
  // certificate (the chart gives the operator the server's key pair). Agents' are refused.
  let clients: string[] | undefined;
  if (!args.insecure && args.cert) {
    try {
      clients = args['control-client']?.length ? args['control-client'] : certificateNames(readFileSync(args.cert));
    } catch (e) {
      fail(`cannot read the names of ${args.cert} (--cert): ${(e as Error).message}`);
    }
  }
  const loadTraces = (control: ControlServer): void => {
    if (!args.traces) return;
    try {
      const specs = readTraceFile(args.traces);
      control.setFromFile(specs);
      process.stderr.write(`traces from ${args.traces}: ${specs.map((t) => t.name).join(', ') || 'none'}\n`);
    } catch (e) {
      if (!(e instanceof TraceFileError)) throw e;
      process.stderr.write(`error: ${e.message} (traces unchanged)\n`);
    }
  };
  let svc;
  try {
    svc = await startAggregatorService({
      ...opts,
      control: { ...(args.traces ? { tracesFile: args.traces } : {}), ...(clients ? { clients } : {}) },
      beforeListen: (_agg, control) => {
        if (!control) throw new Error('the control API is not served');
        if (args.traces) return loadTraces(control);
        const kept = control.restore();
        process.stderr.write(
          kept
            ? `traces kept from the operator's last set: ${kept.join(', ') || 'none'} (until an operator sends its own)\n`
            : 'no traces yet: waiting for retrace-operator --aggregator to send them (or give --traces FILE)\n',
        );
      },
    });
  } catch (e) {
    if (e instanceof ListenError) fail(e.message);
    throw e;
  }
  const control = svc.control;
  process.stderr.write(
    `listening on ${opts.listen.replace(/:\d+$/, '')}:${svc.port} (${args.insecure ? 'insecure' : 'mutual TLS'})\n`,
  );
  const ha = svc.health?.address();
  if (ha && typeof ha === 'object') process.stderr.write(`health and metrics on :${ha.port}\n`);
  if (control) process.on('SIGHUP', () => loadTraces(control));
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: flushing and stopping\n`);
    svc.close();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(`retrace-aggregator: ${e.message}\n`);
  process.exit(1);
});
