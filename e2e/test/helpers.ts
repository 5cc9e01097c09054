// Shared by the collect end-to-end tests: temp files, background servers, reading event files.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLine, parsePacket, readCapture, type CapturedPacket, type Event } from '@retrace/events';
import { createServer } from 'node:net';
import {
  clientTlsArgs,
  ourProgramsLoaded,
  runRetrace,
  waitFor,
  type ClusterLab,
  type Netns,
  type Proc,
  type TestCerts,
} from '@retrace/e2e';

/**
 * `retrace collect` of what one namespace's command sends (the namespace's packets only: a meta
 * filter on the device's netns), into `out`, with `extra` flags; the run must succeed.
 */
export function collectInNetns(
  ns: Netns,
  cmd: string,
  out: string,
  extra: string[] = [],
): ReturnType<typeof runRetrace> {
  const r = runRetrace([
    'collect',
    '-c',
    'skb,skb-tracking,dev,ns',
    '-m',
    `sk_buff.dev.nd_net.net.ns.inum == ${ns.inode}`,
    '--cmd',
    `ip netns exec ${ns.name} ${cmd}`,
    '-o',
    out,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`retrace collect failed (${r.code}): ${r.stderr}`);
  return r;
}

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rt-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * What a multi-node test set up, removed in the order that leaves nothing behind: its processes
 * killed (agents detach from the kernel), then the lab's namespaces and rules, the certificates
 * and the temporary files. Parts never made (a set-up that failed) are skipped.
 */
export async function tearDownCluster(parts: {
  procs?: Proc[];
  lab?: ClusterLab | undefined;
  certs?: TestCerts | undefined;
  tmp?: { remove: () => void };
}): Promise<void> {
  for (const p of parts.procs ?? []) await p.stop('SIGKILL');
  parts.lab?.destroy();
  parts.certs?.remove();
  parts.tmp?.remove();
}

/** Every line of an events file, parsed (throws on any invalid line). */
export function readEvents(path: string): Event[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => parseLine(l, i + 1))
    .flat();
}

export function readSeries(path: string): Event[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      const v = parseLine(l, i + 1);
      return Array.isArray(v) ? v : [v];
    });
}

/** UDP and TCP echo servers in a namespace (node, so no extra packages are needed). */
export function startServers(ns: Netns, udpPort: number, tcpPort: number): ChildProcess {
  const code = `
    const dgram = require('node:dgram'); const net = require('node:net');
    const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(${udpPort});
    net.createServer((s) => s.pipe(s)).listen(${tcpPort}, () => console.log('listening'));`;
  return spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

export async function serversReady(p: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    p.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    p.on('exit', (c) => reject(new Error(`servers exited (${c})`)));
  });
}

/** One TCP exchange from a namespace (bash /dev/tcp). */
export function tcpExchange(ns: Netns, ip: string, port: number): void {
  spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      'timeout',
      '3',
      'bash',
      '-c',
      `exec 3<>/dev/tcp/${ip}/${port}; echo hello >&3; head -c 6 <&3`,
    ],
    {
      stdio: 'ignore',
    },
  );
}

export interface Hop {
  symbol: string;
  dev: string;
  netns: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  proto: string;
}

/** The hop view of an event: where it was seen and the addresses it carried there. */
export function hop(ev: Event): Hop | undefined {
  if (!ev.packet || !ev.kernel) return undefined;
  const p = parsePacket(Buffer.from(ev.packet.data, 'base64'));
  if (!p.ip) return undefined;
  const l4 = p.l4 && 'sport' in p.l4 ? p.l4 : undefined;
  return {
    symbol: ev.kernel.symbol,
    dev: ev.dev?.name ?? '',
    netns: ev.netns?.inum ?? 0,
    src: p.ip.src,
    dst: p.ip.dst,
    ...(l4?.sport !== undefined ? { sport: l4.sport } : {}),
    ...(l4?.dport !== undefined ? { dport: l4.dport } : {}),
    proto: p.l4?.proto ?? String(p.ip.proto),
  };
}

/** Waits (bounded) until no program of ours is loaded: the kernel frees programs after an RCU grace period. */
export async function expectNothingLoaded(): Promise<void> {
  await waitFor(
    () => ourProgramsLoaded().length === 0,
    `retrace programs to be unloaded (still: ${ourProgramsLoaded().join(', ')})`,
  );
}

export { ourProgramsLoaded };

/**
 * Numbers (1-based positions in the file) of the packets tcpdump accepts, found with
 * `tcpdump -w` and a walk of both files (tcpdump's own -# numbers only what it prints).
 * Undefined when tcpdump refuses the expression.
 */
export function tcpdumpMatches(
  capture: string,
  expr: string,
  all: CapturedPacket[],
  dir: string,
): Set<number> | undefined {
  const out = join(dir, 'tcpdump-out.pcap');
  const r = spawnSync('tcpdump', ['-r', capture, '-w', out, expr], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const numbers = new Set<number>();
  let j = 0;
  for (const m of readCapture(readFileSync(out))) {
    while (j < all.length && !(all[j]?.len === m.len && all[j]?.data.equals(m.data))) j++;
    const p = all[j++];
    if (p) numbers.add(p.number);
  }
  return numbers;
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `retrace summary` of one node, parsed: received events, lost by cause, emitted. */
export function nodeSummary(
  server: string,
  trace: string,
  node: string,
  certs: TestCerts,
): { events: number; emitted: number; causes: Record<string, number>; text: string } | undefined {
  const r = runRetrace(['summary', trace, '--server', server, ...clientTlsArgs(certs)]);
  if (r.code !== 0) return undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^ {2}node (\S+) \[\w+\].*?(\d+) event\(s\), (\d+) lost(?: \(([^)]*)\))?; emitted (\d+)/.exec(line);
    if (m?.[1] !== node) continue;
    const causes = Object.fromEntries(
      (m[4] ?? '')
        .split(', ')
        .filter(Boolean)
        .map((c) => [c.split(' ')[0] ?? '', Number(c.split(' ')[1])]),
    );
    return { events: Number(m[2]), emitted: Number(m[5]), causes, text: r.stdout };
  }
  return undefined;
}

/** Causes of events lost after the agent emitted them: what `emitted = stored + lost` counts. */
const LOST_AFTER_EMIT = ['backpressure', 'malformed', 'quota', 'aggregator-restart', 'agent-restart'];

/** Events a node lost after emitting them, from nodeSummary's causes. */
export const lostAfterEmit = (causes: Record<string, number>): number =>
  LOST_AFTER_EMIT.reduce((n, c) => n + (causes[c] ?? 0), 0);

/**
 * A UDP flow from namespace `from` to `dstIp`, port 9000: `count` datagrams, `burst` every
 * `everyMs`; each `bytes` long, or else carrying its number (`n=I`). The process ends when sent.
 */
export function udpFlow(
  from: Netns,
  dstIp: string,
  o: { count: number; burst: number; everyMs: number; bytes?: number },
): ChildProcess {
  const payload = o.bytes === undefined ? `'n='+i` : 'b';
  const code =
    `const s=require('dgram').createSocket('udp4');const b=Buffer.alloc(${o.bytes ?? 0},120);let i=0;` +
    `const t=setInterval(()=>{for(let k=0;k<${o.burst}&&i<${o.count};k++,i++)s.send(${payload},9000,'${dstIp}');` +
    `if(i>=${o.count}){clearInterval(t);setTimeout(()=>s.close(),100)}},${o.everyMs})`;
  return spawn('ip', ['netns', 'exec', from.name, process.execPath, '-e', code], { stdio: 'ignore' });
}
