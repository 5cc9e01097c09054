#!/usr/bin/env node
// `kubectl retrace ...`: kubectl runs this plugin (kubectl-retrace on PATH) for the cluster
// verbs; the same verbs are under `retrace`.
import { Command } from 'commander';
import { addClusterVerbs } from '../cluster-verbs.js';
import { UsageError } from '../usage-error.js';

const p = new Command('kubectl retrace')
  .description('cluster-wide packet tracing: Traces and ClusterTraces, their journeys and drops')
  .version('0.1.0');
addClusterVerbs(p);
p.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`kubectl retrace: ${err.message}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
