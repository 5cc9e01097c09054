// One run of the real-cluster test (e2e/test/k8s-real-cluster.test.ts): the cluster, the release
// installed in it, the test pods' addresses, and what its steps share to drive them (kubectl, the
// kubectl-retrace plugin, Trace status polling, traffic to a closed port, the journeys stored).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLine, parsePacketBase64, type Event } from '@retrace/events';
import { parse } from 'yaml';
import { waitForValue } from '../lab/wait.js';
import { REPO_ROOT, clusterDown, clusterRun, clusterUp, helm, kubectl, type RealCluster } from './real-cluster.js';

export const RELEASE = 'retrace';
export const NS = 'retrace';
/** The closed port the test pods send to: the kernel drops the SYN (no socket) and resets. */
export const PORT = 7777;
const TAG = (parse(readFileSync(join(REPO_ROOT, 'helm/retrace/Chart.yaml'), 'utf8')) as { appVersion: string })
  .appVersion;
export const TESTPOD = `retrace/testpod:${TAG}`;

export interface TraceStatus {
  phase?: string;
  nodesReady?: number;
  nodes?: { name: string; state: string; probesAttached?: number; events?: number }[];
  topDropReasons?: { reason: string; count: number; node?: string; pod?: string; example?: string }[];
  results?: { trace?: string };
}

/** A step ran before start() brought the cluster up. */
export class ClusterNotUpError extends Error {
  constructor() {
    super('the cluster is not up: ClusterSession.start() runs first (in beforeAll)');
    this.name = 'ClusterNotUpError';
  }
}

/** JSON lines of `kubectl retrace events -o -`, one journey (or lone event) a line. */
export function parseJourneys(out: string): Event[][] {
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const v = parseLine(l, 1);
      return Array.isArray(v) ? v : [v];
    });
}

/** Source and destination addresses of every packet in the journeys. */
export const addressesIn = (js: Event[][]): Set<string> =>
  new Set(
    js.flat().flatMap((e) => {
      const ip = parsePacketBase64(e.packet?.data ?? '').ip;
      return ip ? [ip.src, ip.dst] : [];
    }),
  );

/** `namespace/pod` of every event that names its pod. */
export const podsIn = (js: Event[][]): Set<string> =>
  new Set(js.flat().flatMap((e) => (e.k8s?.pod ? [`${e.k8s.namespace ?? ''}/${e.k8s.pod}`] : [])));

export class ClusterSession {
  private cluster: RealCluster | undefined;
  /** `kubectl port-forward` to the aggregator's Service, once a step opened it. */
  forward: { port: number; kill: () => void } | undefined;
  readonly tmp = mkdtempSync(join(tmpdir(), 'rt-k8s-'));
  /** Where `make install-plugin` puts kubectl-retrace. */
  readonly prefix = join(this.tmp, 'prefix');
  /** Test pod name -> its address. */
  readonly podIp: Record<string, string> = {};
  /** Every BPF program an agent held during the run: none may outlive the release. */
  readonly agentPrograms: number[] = [];
  /** When the release was installed (the audit log keeps earlier runs' calls). */
  installedAt = '';

  get c(): RealCluster {
    if (!this.cluster) throw new ClusterNotUpError();
    return this.cluster;
  }

  /** Starts the cluster, installs the plugin as its README does, and removes an earlier run's leftovers. */
  async start(): Promise<void> {
    const c = clusterUp();
    this.cluster = c;
    execFileSync('make', ['--no-print-directory', 'install-plugin', `PREFIX=${this.prefix}`], { cwd: REPO_ROOT });
    // A user's PATH: the installed plugin first, and not npm's node_modules/.bin (which npx and
    // npm test add), whose kubectl-retrace link would make kubectl warn of two plugins.
    const path = (c.env.PATH ?? '').split(':').filter((d) => !d.endsWith('node_modules/.bin'));
    c.env = { ...c.env, PATH: [join(this.prefix, 'bin'), ...path].join(':') };
    await this.removeLeftovers();
  }

  /** Stops the port-forward and the cluster (RETRACE_K8S_KEEP=1 leaves it up). */
  stop(): void {
    this.forward?.kill();
    if (this.cluster && process.env.RETRACE_K8S_KEEP !== '1') clusterDown();
    rmSync(this.tmp, { recursive: true, force: true });
  }

  k(args: string[], input?: string): Promise<string> {
    return kubectl(this.c, args, input);
  }

  plugin(args: string[]): Promise<string> {
    return clusterRun(this.c, 'kubectl', ['retrace', ...args]);
  }

  /** The plugin's flags to reach the aggregator through the port-forward, trusting the server Secret's CA. */
  aggregatorArgs(): string[] {
    return [
      '--server',
      `127.0.0.1:${this.forward?.port ?? 0}`,
      '--tls-server-name',
      `${RELEASE}-aggregator.${NS}.svc`,
      '--tls-secret',
      `${NS}/${RELEASE}-server-tls`,
    ];
  }

  async status(kind: string, name: string, ns?: string): Promise<TraceStatus> {
    const out = await this.k(['get', kind, name, '-o', 'json', ...(ns ? ['-n', ns] : [])]);
    return (JSON.parse(out) as { status?: TraceStatus }).status ?? {};
  }

  /** Polls a Trace's status until `ok`; on time-out, the error shows the last status and the logs. */
  untilStatus(
    kind: string,
    name: string,
    ns: string | undefined,
    what: string,
    ok: (s: TraceStatus) => boolean,
    ms = 120_000,
  ): Promise<TraceStatus> {
    let last: TraceStatus = {};
    return waitForValue(
      async () => {
        last = await this.status(kind, name, ns);
        return ok(last) ? last : undefined;
      },
      what,
      ms,
      1000,
    ).catch(async (e: Error) => {
      const logs = await this.k(['logs', '-n', NS, '-l', 'app.kubernetes.io/component=operator', '--tail', '40']).catch(
        (x: Error) => x.message,
      );
      const agent = await this.k(['logs', '-n', NS, '-l', 'app.kubernetes.io/component=agent', '--tail', '20']).catch(
        (x: Error) => x.message,
      );
      throw new Error(
        `${e.message}\nlast status: ${JSON.stringify(last, null, 1)}\noperator:\n${logs}\nagent:\n${agent}`,
      );
    });
  }

  /** Opens TCP from a pod to another pod's closed port: the kernel drops the SYN (no socket) and resets. */
  send(ns: string, from: string, to: string): Promise<string> {
    return this.k([
      'exec',
      '-n',
      ns,
      from,
      '--',
      'sh',
      '-c',
      `nc -w1 ${this.podIp[to] ?? '?'} ${PORT} </dev/null || true`,
    ]);
  }

  /** Journeys the aggregator stored for a trace, as JSON lines through `kubectl retrace events`. */
  async journeys(name: string, scope: string[]): Promise<Event[][]> {
    return parseJourneys(await this.plugin(['events', name, ...scope, '-o', '-', ...this.aggregatorArgs()]));
  }

  /** Drops and the packets before them, of the test's closed port, for 20 minutes. */
  applyTrace(kind: 'Trace' | 'ClusterTrace', metadata: { name: string; namespace?: string }): Promise<string> {
    return this.k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'retrace.dev/v1alpha1',
        kind,
        metadata,
        spec: {
          collectors: ['skb-tracking', 'skb', 'skb-drop', 'dev', 'ns'],
          probes: ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'],
          packetFilter: `tcp port ${PORT}`,
          duration: '20m',
        },
      }),
    );
  }

  /** ca/cert/key files of the server Secret (for a direct `retrace summary`), as flags. */
  async serverTlsFiles(): Promise<string[]> {
    const sec = JSON.parse(await this.k(['get', 'secret', '-n', NS, `${RELEASE}-server-tls`, '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const out: string[] = [];
    for (const [flag, key] of [
      ['--ca', 'ca.crt'],
      ['--cert', 'tls.crt'],
      ['--key', 'tls.key'],
    ] as const) {
      const f = join(this.tmp, key);
      execFileSync('sh', ['-c', `umask 077; cat > ${f}`], { input: Buffer.from(sec.data[key] ?? '', 'base64') });
      out.push(flag, f);
    }
    return out;
  }

  /**
   * What an earlier run killed before its afterAll left: traces (their finalizer is the
   * operator's, which may be gone: dropped by hand then), the test namespaces, the release.
   */
  private async removeLeftovers(): Promise<void> {
    await this.k(['delete', 'clustertraces,traces', '-A', '--all', '--wait=false']).catch(() => '');
    // On a fresh cluster the CRDs do not exist yet: nothing to remove.
    const listed = await this.k(['get', 'clustertraces,traces', '-A', '-o', 'json']).catch(() => '{"items":[]}');
    const left = JSON.parse(listed) as {
      items: { kind: string; metadata: { name: string; namespace?: string } }[];
    };
    for (const { kind, metadata: m } of left.items) {
      const ns = m.namespace ? ['-n', m.namespace] : [];
      await this.k([
        'patch',
        kind.toLowerCase(),
        m.name,
        ...ns,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
    }
    await this.k(['delete', 'namespace', 'team-a', 'team-b', '--ignore-not-found', '--wait']);
    await helm(this.c, ['uninstall', RELEASE, '-n', NS, '--wait']).catch(() => '');
    // The release namespace too (its Lease outlives an uninstall): the install starts afresh.
    await this.k(['delete', 'namespace', NS, '--ignore-not-found', '--wait']);
  }
}
