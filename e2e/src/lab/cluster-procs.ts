// The aggregator and agents as real processes (their built entrypoints), for multi-node tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCerts } from './certs.js';

function repoFile(rel: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = join(dir, rel);
    if (existsSync(f)) return f;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${rel} not found: run \`make build\``);
    dir = parent;
  }
}

export interface Proc {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  log(): string;
  /** Resolves when stderr matches (the match), rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

function start(argv: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  const waiters: (() => void)[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stdout?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters.splice(0)) w();
  });
  const proc: Proc = {
    child,
    log: () => err,
    waitFor: (re, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const until = Date.now() + timeoutMs;
        const check = (): void => {
          const m = re.exec(err);
          if (m) return resolve(m);
          if (done) return reject(new Error(`process exited before ${re}:\n${err}`));
          if (Date.now() > until) return reject(new Error(`timed out waiting for ${re}:\n${err}`));
          waiters.push(check);
          setTimeout(check, 100);
        };
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
      return exited;
    },
    exited,
  };
  return proc;
}

export interface AggregatorProcOptions {
  store: string;
  traces?: string;
  certs?: TestCerts;
  port?: number;
  extra?: string[];
}

export async function startAggregator(o: AggregatorProcOptions): Promise<Proc & { address: string }> {
  const tls = o.certs ? ['--ca', o.certs.ca, '--cert', o.certs.serverCert, '--key', o.certs.serverKey] : ['--insecure'];
  const p = start([
    repoFile('aggregator/dist/bin/retrace-aggregator.js'),
    '--listen',
    `127.0.0.1:${o.port ?? 0}`,
    '--store',
    o.store,
    ...(o.traces ? ['--traces', o.traces] : []),
    ...tls,
    ...(o.extra ?? []),
  ]);
  const m = await p.waitFor(/listening on [\d.]+:(\d+)/);
  return Object.assign(p, { address: `127.0.0.1:${m[1]}` });
}

export interface AgentProcOptions {
  node: string;
  server: string;
  certs?: TestCerts;
  /** Use the rogue client certificate (signed by an untrusted CA). */
  rogue?: boolean;
  nodeNetns?: string[];
  extra?: string[];
}

export function startAgent(o: AgentProcOptions): Proc {
  const c = o.certs;
  // Each agent presents a certificate bound to its node, as the aggregator requires by default.
  const own = c && !o.rogue ? c.nodeCert(o.node) : undefined;
  const tls = c ? ['--ca', c.ca, '--cert', own?.cert ?? c.rogueCert, '--key', own?.key ?? c.rogueKey] : ['--insecure'];
  return start([
    repoFile('agent/dist/bin/retrace-agent.js'),
    '--server',
    o.server,
    '--node-name',
    o.node,
    ...(o.nodeNetns?.length ? ['--node-netns', o.nodeNetns.join(',')] : []),
    ...tls,
    ...(o.extra ?? []),
  ]);
}

export interface OperatorProcOptions {
  /** The Kubernetes API: a kubeconfig file. */
  kubeconfig: string;
  store: string;
  certs: TestCerts;
  extra?: string[];
}

/** retrace-operator with its in-process aggregator; `address` is where agents and queries go. */
export async function startOperator(o: OperatorProcOptions): Promise<Proc & { address: string }> {
  const c = o.certs;
  const p = start(
    [
      repoFile('operator/dist/bin/retrace-operator.js'),
      '--listen',
      '127.0.0.1:0',
      '--store',
      o.store,
      '--ca',
      c.ca,
      '--cert',
      c.serverCert,
      '--key',
      c.serverKey,
      ...(o.extra ?? []),
    ],
    { KUBECONFIG: o.kubeconfig },
  );
  const m = await p.waitFor(/listening on ([\d.]+:\d+)/);
  await p.waitFor(/controller started/);
  return Object.assign(p, { address: m[1] ?? '' });
}
