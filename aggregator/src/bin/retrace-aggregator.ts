#!/usr/bin/env -S node --max-semi-space-size=32
// (A larger young generation: events wait in the sorter for the lateness window, and with the
// default most of them were copied twice and promoted before they died; about 8% of the CPU.)
// retrace-aggregator: the aggregator as a process of its own (its summary below says what it
// serves; the flags it shares with retrace-operator are in aggregator-flags.ts).
// Only the flags are loaded before they are parsed: --help and usage errors answer without
// loading gRPC, the store or the Kubernetes client (main() imports them).
import { readFileSync } from 'node:fs';
import { daemonFlags, repeated, text, type Fail } from '@retrace/cli-flags';
import { AGGREGATOR_FLAGS } from '../server/aggregator-flags.js';
import type { ControlServer } from '../server/control-server.js';

const daemon = daemonFlags({
  name: 'retrace-aggregator',
  summary:
    "retrace's aggregator: the agents' link, the query API and the control API on one port, health and " +
    'metrics on another. Its traces come from --traces FILE, or else from a retrace-operator --aggregator ' +
    'driving it through the control API (the last set kept in the store across restarts).',
  flags: {
    ...AGGREGATOR_FLAGS,
    traces: text('FILE', 'the traces to run (YAML or JSON), re-read on SIGHUP; the control API then refuses SetTraces'),
    'control-client': repeated(
      'NAME',
      "a certificate name (CN or DNS) allowed to drive the control API (default: the names of --cert's certificate)",
    ),
  },
});
const args = daemon.values;
// Annotated, so that the compiler knows the code after fail() is unreachable.
const fail: Fail = daemon.fail;

async function main(): Promise<void> {
  const [{ aggregatorServiceOptions }, { ListenError, startAggregatorService }, { certificateNames }, traceFile] =
    await Promise.all([
      import('../server/aggregator-options.js'),
      import('../server/aggregator-service.js'),
      import('../server/control-server.js'),
      import('../server/trace-file.js'),
    ]);
  const { readTraceFile, TraceFileError } = traceFile;
  const opts = aggregatorServiceOptions(args, fail);
  // Who may drive this aggregator: --control-client names, or by default the names of its own
  // certificate (the chart gives the operator the server's key pair). Agents' are refused.
  let clients: string[] | undefined;
  if (!args.insecure && args.cert) {
    try {
      clients = args['control-client'].length ? args['control-client'] : certificateNames(readFileSync(args.cert));
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
