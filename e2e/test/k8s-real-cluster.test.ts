// retrace on a real Kubernetes, as a user installs and runs it: e2e/k8s/cluster.sh starts etcd,
// the control plane, containerd, kubelet, kube-proxy and CoreDNS on this machine; the real helm
// installs the chart from images built here (e2e/k8s/images); the real kubectl applies Traces and
// runs the kubectl-retrace plugin. Steps follow one another (one cluster, one release).
//
// RETRACE_K8S=0 skips it (e.g. a machine without Go); RETRACE_K8S_KEEP=1 leaves the cluster up.
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLine, parsePacketBase64, type Event } from '@retrace/events';
import {
  auditRecords,
  clusterDown,
  clusterUp,
  helm,
  kubectl,
  portForward,
  REPO_ROOT,
  clusterRun,
  waitForValue,
  type RealCluster,
} from '@retrace/e2e';
import { parse } from 'yaml';

const RELEASE = 'retrace';
const NS = 'retrace';
const TAG = (parse(readFileSync(join(REPO_ROOT, 'helm/retrace/Chart.yaml'), 'utf8')) as { appVersion: string })
  .appVersion;
const TESTPOD = `retrace/testpod:${TAG}`;
const PORT = 7777;

const enabled = process.env.RETRACE_K8S !== '0';
const d = enabled ? describe : describe.skip;

interface TraceStatus {
  phase?: string;
  nodesReady?: number;
  nodes?: { name: string; state: string; probesAttached?: number; events?: number }[];
  topDropReasons?: { reason: string; count: number; node?: string; pod?: string; example?: string }[];
  results?: { trace?: string };
}

/** Ids of the BPF programs loaded in the kernel now. */
function bpfProgramIds(): Set<number> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { id: number }[];
  return new Set(list.map((p) => p.id));
}

/** Ids of the BPF programs a process holds open (its fds on bpf-prog, and the programs of its bpf links). */
function programsOfPid(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!/^anon_inode:bpf[-_](prog|link)$/.test(target)) continue;
    const id = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
    if (id) ids.add(Number(id));
  }
  return [...ids];
}

d('retrace on a real Kubernetes (e2e/k8s/cluster.sh)', () => {
  let c: RealCluster;
  let forward: { port: number; kill: () => void } | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'rt-k8s-'));
  const prefix = join(tmp, 'prefix');
  const podIp: Record<string, string> = {};
  /** Every BPF program an agent held during the run: none may outlive the release. */
  const agentPrograms: number[] = [];
  let installedAt = '';

  const k = (args: string[], input?: string): Promise<string> => kubectl(c, args, input);
  const plugin = (args: string[]): Promise<string> => clusterRun(c, 'kubectl', ['retrace', ...args]);
  const aggregatorArgs = (): string[] => [
    '--server',
    `127.0.0.1:${forward?.port ?? 0}`,
    '--tls-server-name',
    `${RELEASE}-aggregator.${NS}.svc`,
    '--tls-secret',
    `${NS}/${RELEASE}-server-tls`,
  ];
  const status = async (kind: string, name: string, ns?: string): Promise<TraceStatus> =>
    (JSON.parse(await k(['get', kind, name, '-o', 'json', ...(ns ? ['-n', ns] : [])])) as { status?: TraceStatus })
      .status ?? {};
  const untilStatus = (
    kind: string,
    name: string,
    ns: string | undefined,
    what: string,
    ok: (s: TraceStatus) => boolean,
    ms = 120_000,
  ) => {
    let last: TraceStatus = {};
    return waitForValue(
      async () => {
        last = await status(kind, name, ns);
        return ok(last) ? last : undefined;
      },
      what,
      ms,
      1000,
    ).catch(async (e: Error) => {
      const logs = await k(['logs', '-n', NS, '-l', 'app.kubernetes.io/component=operator', '--tail', '40']).catch(
        (x: Error) => x.message,
      );
      const agent = await k(['logs', '-n', NS, '-l', 'app.kubernetes.io/component=agent', '--tail', '20']).catch(
        (x: Error) => x.message,
      );
      throw new Error(
        `${e.message}\nlast status: ${JSON.stringify(last, null, 1)}\noperator:\n${logs}\nagent:\n${agent}`,
      );
    });
  };
  /** Opens TCP from a pod to another pod's closed port: the kernel drops the SYN (no socket) and resets. */
  const send = (ns: string, from: string, to: string): Promise<string> =>
    k(['exec', '-n', ns, from, '--', 'sh', '-c', `nc -w1 ${podIp[to] ?? '?'} ${PORT} </dev/null || true`]);
  /** Journeys the aggregator stored for a trace, as JSON lines through `kubectl retrace events`. */
  const journeys = async (name: string, scope: string[]): Promise<Event[][]> => {
    const out = await plugin(['events', name, ...scope, '-o', '-', ...aggregatorArgs()]);
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const v = parseLine(l, 1);
        return Array.isArray(v) ? v : [v];
      });
  };
  /** Drops and the packets before them, of the test's closed port, for 20 minutes. */
  const applyTrace = (
    kind: 'Trace' | 'ClusterTrace',
    metadata: { name: string; namespace?: string },
  ): Promise<string> =>
    k(
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
  /** Source and destination addresses of every packet in the journeys. */
  const addressesIn = (js: Event[][]): Set<string> =>
    new Set(
      js.flat().flatMap((e) => {
        const ip = parsePacketBase64(e.packet?.data ?? '').ip;
        return ip ? [ip.src, ip.dst] : [];
      }),
    );
  const podsIn = (js: Event[][]): Set<string> =>
    new Set(js.flat().flatMap((e) => (e.k8s?.pod ? [`${e.k8s.namespace ?? ''}/${e.k8s.pod}`] : [])));

  /**
   * What an earlier run killed before its afterAll left: traces (their finalizer is the
   * operator's, which may be gone: dropped by hand then), the test namespaces, the release.
   */
  const removeLeftovers = async (): Promise<void> => {
    await k(['delete', 'clustertraces,traces', '-A', '--all', '--wait=false']).catch(() => '');
    // On a fresh cluster the CRDs do not exist yet: nothing to remove.
    const listed = await k(['get', 'clustertraces,traces', '-A', '-o', 'json']).catch(() => '{"items":[]}');
    const left = JSON.parse(listed) as {
      items: { kind: string; metadata: { name: string; namespace?: string } }[];
    };
    for (const { kind, metadata: m } of left.items) {
      const ns = m.namespace ? ['-n', m.namespace] : [];
      await k(['patch', kind.toLowerCase(), m.name, ...ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
    await k(['delete', 'namespace', 'team-a', 'team-b', '--ignore-not-found', '--wait']);
    await helm(c, ['uninstall', RELEASE, '-n', NS, '--wait']).catch(() => '');
    // The release namespace too (its Lease outlives an uninstall): the install starts afresh.
    await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait']);
  };

  beforeAll(async () => {
    c = clusterUp();
    // The plugin as its README installs it (one command), so that `kubectl retrace` works below.
    execFileSync('make', ['--no-print-directory', 'install-plugin', `PREFIX=${prefix}`], { cwd: REPO_ROOT });
    c.env = { ...c.env, PATH: `${join(prefix, 'bin')}:${c.env.PATH ?? ''}` };
    await removeLeftovers();
  }, 60 * 60_000);

  afterAll(async () => {
    forward?.kill();
    if (c && process.env.RETRACE_K8S_KEEP !== '1') clusterDown();
    rmSync(tmp, { recursive: true, force: true });
  }, 300_000);

  test('helm install --wait: the operator and the agents become Ready from the local images', async () => {
    installedAt = new Date().toISOString();
    const out = await helm(c, [
      'install',
      RELEASE,
      join(REPO_ROOT, 'helm/retrace'),
      '-n',
      NS,
      '--create-namespace',
      '--wait',
      '--timeout',
      '5m',
    ]);
    expect(out).toMatch(/^STATUS: deployed$/m);
    const ds = JSON.parse(await k(['get', 'daemonset', '-n', NS, `${RELEASE}-agent`, '-o', 'json'])) as {
      status: { numberReady: number; desiredNumberScheduled: number };
    };
    expect(ds.status.numberReady).toBe(ds.status.desiredNumberScheduled);
    expect(ds.status.numberReady).toBe(1);
    // The node's agent has a certificate of its own node, which the aggregator requires
    // (--agent-certs=bound): it could not be Ready (connected) without it.
    const nodes = JSON.parse(await k(['get', 'secret', '-n', NS, `${RELEASE}-agent-nodes`, '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const own = new X509Certificate(Buffer.from(nodes.data[`${c.node}.crt`] ?? '', 'base64'));
    expect(own.subjectAltName).toBe(`DNS:${c.node}.nodes.retrace`);
    // The images run the Node.js LTS they ship, not the machine's.
    const version = await k(['exec', '-n', NS, `ds/${RELEASE}-agent`, '--', 'node', '--version']);
    expect(version.trim()).toMatch(/^v24\./);
  }, 600_000);

  test('test pods in two namespaces; the CRDs as kubectl shows them', async () => {
    const pod = (ns: string, name: string): object => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: { app: name } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: TESTPOD, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
      },
    });
    for (const ns of ['team-a', 'team-b']) await k(['create', 'namespace', ns]);
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          pod('team-a', 'client-a'),
          pod('team-a', 'server-a'),
          pod('team-b', 'client-b'),
          pod('team-b', 'server-b'),
        ],
      }),
    );
    for (const [ns, names] of [
      ['team-a', ['client-a', 'server-a']],
      ['team-b', ['client-b', 'server-b']],
    ] as const) {
      await k(['wait', '-n', ns, '--for=condition=Ready', ...names.map((n) => `pod/${n}`), '--timeout=120s']);
      for (const n of names) podIp[n] = (await k(['get', 'pod', '-n', ns, n, '-o', 'jsonpath={.status.podIP}'])).trim();
    }
    expect(podIp['server-a']).toMatch(/^10\.244\./);

    const explained = await k(['explain', 'trace.spec']);
    expect(explained).toMatch(/^KIND:\s+Trace$/m);
    expect(explained).toContain('packetFilter');
  }, 300_000);

  test('a namespaced Trace: printer columns, the drop with its reason and pod, journeys with real pod names', async () => {
    await applyTrace('Trace', { name: 'drops-a', namespace: 'team-a' });
    await untilStatus(
      'trace',
      'drops-a',
      'team-a',
      'drops-a running on the node',
      (s) => s.phase === 'Running' && (s.nodesReady ?? 0) >= 1,
    );
    const listed = await k(['get', 'traces', '-n', 'team-a']);
    expect(listed).toMatch(/^NAME\s+PHASE\s+READY\s+NODES\s+EVENTS\s+LOST\s+TOP DROP/m);
    expect(listed).toMatch(/^drops-a\s+Running\s+/m);
    expect(await k(['get', 'retrace', '-A'])).toMatch(/drops-a\s+Running/);

    // Traffic in both namespaces; only team-a's may land in this trace.
    let polls = 0;
    const dropped = await untilStatus('trace', 'drops-a', 'team-a', 'the drop in the status', (s) => {
      if (polls++ % 5 === 0) {
        void send('team-a', 'client-a', 'server-a');
        void send('team-b', 'client-b', 'server-b');
      }
      return s.topDropReasons?.[0]?.reason === 'NO_SOCKET';
    });
    expect(dropped.topDropReasons?.[0]?.pod ?? dropped.topDropReasons?.[0]?.example).toContain('server-a');

    const pf = await portForward(c, NS, `svc/${RELEASE}-aggregator`, 7443);
    forward = pf;
    const js = await waitForValue(
      async () => {
        // Again each time: the first packets may have raced the agent's mapping of the new pods.
        await send('team-a', 'client-a', 'server-a');
        await send('team-b', 'client-b', 'server-b');
        const all = await journeys('drops-a', ['-n', 'team-a']);
        return all.some((j) => j.at(-1)?.['skb-drop'] && podsIn([j]).has('team-a/server-a')) ? all : undefined;
      },
      'a journey into server-a that ends in the drop',
      60_000,
      1000,
    );
    const pods = podsIn(js);
    expect(pods).toContain('team-a/server-a');
    // Nothing of the other namespace, by pod or by address.
    expect([...pods].filter((p) => !p.startsWith('team-a/'))).toEqual([]);
    const addresses = addressesIn(js);
    expect(addresses).toContain(podIp['server-a']);
    expect(addresses).not.toContain(podIp['server-b']);
    expect(addresses).not.toContain(podIp['client-b']);
    const printed = await plugin(['events', 'drops-a', '-n', 'team-a', ...aggregatorArgs()]);
    expect(printed).toContain('NO_SOCKET');
    expect(printed).toContain('server-a');
  }, 300_000);

  test('a ClusterTrace sees both namespaces; kubectl retrace drops -A lists the drop', async () => {
    await applyTrace('ClusterTrace', { name: 'drops-all' });
    await untilStatus('clustertrace', 'drops-all', undefined, 'drops-all running', (s) => s.phase === 'Running');
    const js = await waitForValue(
      async () => {
        await send('team-a', 'client-a', 'server-a');
        await send('team-b', 'client-b', 'server-b');
        const all = await journeys('drops-all', ['--cluster']);
        const dropped = all.filter((j) => j.at(-1)?.['skb-drop']?.drop_reason === 'NO_SOCKET');
        const seen = addressesIn(dropped);
        // The agent maps pods while the trace runs: the first drops may come before it has.
        const named = podsIn(dropped);
        return seen.has(podIp['server-a'] ?? '?') &&
          seen.has(podIp['server-b'] ?? '?') &&
          named.has('team-a/server-a') &&
          named.has('team-b/server-b')
          ? all
          : undefined;
      },
      "drops into both namespaces' servers in the ClusterTrace",
      90_000,
      2000,
    );
    // A node-wide trace names the node of each event, and the pod of events in a pod's network
    // namespace (the drops above, in both namespaces).
    expect(js.flat().every((e) => e.k8s?.node === c.node)).toBe(true);
    const text = await plugin(['events', 'drops-all', '--cluster', ...aggregatorArgs()]);
    expect(text).toContain('pod team-b/server-b');
    const drops = await plugin(['drops', '-A', ...aggregatorArgs()]);
    expect(drops).toMatch(/^NO_SOCKET\s+\d+$/m);
  }, 300_000);

  test("two users: each reads the journeys of the Traces Kubernetes' view role gives them, with nothing but a token in their kubeconfig", async () => {
    // alice views team-a, bob views team-b (the chart aggregates traces into view); each has a
    // kubeconfig with only a ServiceAccount token, as an OIDC or cloud user would.
    const kubeconfigFor = async (user: string, ns: string): Promise<string> => {
      await k(['create', 'serviceaccount', user, '-n', ns]);
      await k([
        'create',
        'rolebinding',
        `${user}-view`,
        '--clusterrole=view',
        `--serviceaccount=${ns}:${user}`,
        '-n',
        ns,
      ]);
      const token = (await k(['create', 'token', user, '-n', ns, '--duration=1h'])).trim();
      const file = join(tmp, `${user}.kubeconfig`);
      const admin = parse(readFileSync(c.kubeconfig, 'utf8')) as { clusters: unknown[] };
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: admin.clusters,
          users: [{ name: user, user: { token } }],
          contexts: [{ name: user, context: { cluster: (admin.clusters[0] as { name: string }).name, user } }],
          'current-context': user,
        }),
        { mode: 0o600 },
      );
      return file;
    };
    const alice = await kubeconfigFor('alice', 'team-a');
    const bob = await kubeconfigFor('bob', 'team-b');
    // The CA from the ConfigMap every authenticated user may read; no certificate, no Secret.
    const as = (kubeconfig: string, args: string[]): Promise<string> =>
      plugin([
        ...args,
        '--kubeconfig',
        kubeconfig,
        '--server',
        `127.0.0.1:${forward?.port ?? 0}`,
        '--tls-server-name',
        `${RELEASE}-aggregator.${NS}.svc`,
        '--ca-configmap',
        `${NS}/${RELEASE}-ca`,
      ]);
    const refusal = (p: Promise<string>): Promise<string> =>
      p.then(
        (out) => `answered: ${out.slice(0, 200)}`,
        (e: Error) => e.message,
      );

    // alice: her namespace's Trace, journeys and all.
    const mine = await as(alice, ['events', 'drops-a', '-n', 'team-a', '-o', '-']);
    const js = mine
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const v = parseLine(l, 1);
        return Array.isArray(v) ? v : [v];
      });
    expect(podsIn(js)).toContain('team-a/server-a');
    // Not the ClusterTrace: view gives no clustertraces.
    expect(await refusal(as(alice, ['events', 'drops-all', '--cluster']))).toMatch(
      /system:serviceaccount:team-a:alice .*may not get clustertraces\.retrace\.dev drops-all/,
    );
    // bob: the aggregator refuses him team-a's Trace, as the Kubernetes API does.
    expect(await refusal(as(bob, ['events', 'drops-a', '-n', 'team-a', '-o', '-']))).toMatch(
      /system:serviceaccount:team-b:bob \(from the bearer token\) may not get traces\.retrace\.dev drops-a in namespace team-a/,
    );
    expect(
      await refusal(clusterRun(c, 'kubectl', ['retrace', 'get', 'drops-a', '-n', 'team-a', '--kubeconfig', bob])),
    ).toMatch(/forbidden/i);
    // And alice may read what she may get: the same answer from the API server.
    expect(
      await clusterRun(c, 'kubectl', [
        '--kubeconfig',
        alice,
        'auth',
        'can-i',
        'get',
        'traces.retrace.dev',
        '-n',
        'team-a',
      ]),
    ).toMatch(/^yes/);
    // The cluster admin's kubeconfig holds a client certificate, which the aggregator cannot
    // check: refused, saying how to be known.
    expect(await refusal(as(c.kubeconfig, ['events', 'team-a/drops-a']))).toMatch(
      /no bearer token and no client certificate.*sends no bearer token .*RETRACE_TOKEN=\$\(kubectl create token/,
    );
  }, 300_000);

  test('the agent pod deleted: the DaemonSet restarts it, the trace resumes with the gap reported, the old programs are gone', async () => {
    const agentPod = async (): Promise<{ name: string; pid: number }> => {
      const p = JSON.parse(
        await k(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=agent', '-o', 'json']),
      ) as {
        items: {
          metadata: { name: string; deletionTimestamp?: string };
          status: { containerStatuses?: { ready: boolean; containerID?: string }[] };
        }[];
      };
      const live = p.items.find((i) => !i.metadata.deletionTimestamp && i.status.containerStatuses?.[0]?.ready);
      if (!live) throw new Error('no Ready agent pod');
      const id = (live.status.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
      // The container's main process, from the runtime (its PID in the host namespace).
      const state = JSON.parse(
        execFileSync('runc', ['--root', '/run/containerd/runc/k8s.io', 'state', id], { encoding: 'utf8' }),
      ) as { pid: number };
      return { name: live.metadata.name, pid: state.pid };
    };
    const before = await agentPod();
    const held = programsOfPid(before.pid);
    expect(held.length).toBeGreaterThan(0);
    agentPrograms.push(...held);

    await k(['delete', 'pod', '-n', NS, before.name, '--wait']);
    const after = await waitForValue(
      async () => {
        try {
          const p = await agentPod();
          return p.name !== before.name ? p : undefined;
        } catch {
          return undefined;
        }
      },
      'a new Ready agent pod',
      180_000,
      1000,
    );
    const ids = bpfProgramIds();
    expect(held.filter((id) => ids.has(id))).toEqual([]);
    const now = await waitForValue(
      () => {
        const p = programsOfPid(after.pid);
        return p.length > 0 ? p : undefined;
      },
      'the new agent holding its programs',
      120_000,
      1000,
    );
    agentPrograms.push(...now);

    const s = await untilStatus(
      'trace',
      'drops-a',
      'team-a',
      'drops-a running again',
      (x) => x.nodes?.[0]?.state === 'running',
    );
    const trace = s.results?.trace ?? 'team-a/drops-a';
    const summary = await clusterRun(c, process.execPath, [
      join(REPO_ROOT, 'cli/dist/bin/retrace.js'),
      'summary',
      trace,
      ...aggregatorArgs().filter((a, i, all) => a !== '--tls-secret' && all[i - 1] !== '--tls-secret'),
      ...(await serverTlsFiles()),
    ]);
    expect(summary).toMatch(/gap: /);
  }, 400_000);

  /** ca/cert/key files of the server Secret (for the direct `retrace summary`). */
  async function serverTlsFiles(): Promise<string[]> {
    const sec = JSON.parse(await k(['get', 'secret', '-n', NS, `${RELEASE}-server-tls`, '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const out: string[] = [];
    for (const [flag, key] of [
      ['--ca', 'ca.crt'],
      ['--cert', 'tls.crt'],
      ['--key', 'tls.key'],
    ] as const) {
      const f = join(tmp, key);
      execFileSync('sh', ['-c', `umask 077; cat > ${f}`], { input: Buffer.from(sec.data[key] ?? '', 'base64') });
      out.push(flag, f);
    }
    return out;
  }

  test('the operator pod deleted: leadership moves through the Lease, no trace is lost', async () => {
    const lease = async (): Promise<string> =>
      (await k(['get', 'lease', '-n', NS, '-o', 'jsonpath={.items[0].spec.holderIdentity}'])).trim();
    const holder = await lease();
    expect(holder).not.toBe('');
    await k(['delete', 'pod', '-n', NS, '-l', 'app.kubernetes.io/component=operator', '--wait']);
    const next = await waitForValue(
      async () => {
        const h = await lease().catch(() => '');
        return h && h !== holder ? h : undefined;
      },
      'a new lease holder',
      180_000,
      1000,
    );
    expect(next).not.toBe(holder);
    // The aggregator ran in the old pod: the agent finds the new one behind the Service.
    await untilStatus('trace', 'drops-a', 'team-a', 'drops-a running again', (s) => s.phase === 'Running', 240_000);
    await untilStatus('clustertrace', 'drops-all', undefined, 'drops-all running again', (s) => s.phase === 'Running');
  }, 600_000);

  test('helm upgrade with tls.extraServerNames reissues the server certificate with the new names', async () => {
    const sans = async (): Promise<string> => {
      const b64 = await k(['get', 'secret', '-n', NS, `${RELEASE}-server-tls`, '-o', 'jsonpath={.data.tls\\.crt}']);
      return execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], {
        input: Buffer.from(b64, 'base64'),
        encoding: 'utf8',
      });
    };
    expect(await sans()).not.toContain('retrace.example.test');
    await helm(c, [
      'upgrade',
      RELEASE,
      join(REPO_ROOT, 'helm/retrace'),
      '-n',
      NS,
      '--reuse-values',
      '--set',
      'tls.extraServerNames={retrace.example.test}',
      '--wait',
      '--timeout',
      '5m',
    ]);
    const names = await sans();
    expect(names).toContain('DNS:retrace.example.test');
    expect(names).toContain(`DNS:${RELEASE}-aggregator.${NS}.svc`);
    // The new certificate is served: the agents reconnect and the trace goes on.
    forward?.kill();
    forward = await portForward(c, NS, `svc/${RELEASE}-aggregator`, 7443);
    await untilStatus(
      'trace',
      'drops-a',
      'team-a',
      'drops-a running after the upgrade',
      (s) => s.nodes?.[0]?.state === 'running',
      300_000,
    );
  }, 600_000);

  test("the chart's RBAC is what the API server needs: nothing refused, nothing unused, only the operator calls", async () => {
    const operatorSa = `system:serviceaccount:${NS}:${RELEASE}-operator`;
    // This run's calls while the release was installed (the log keeps earlier runs; after an
    // uninstall the operator's Role is gone before the operator is).
    const calls = auditRecords().filter(
      (r) => r.user.username.startsWith(`system:serviceaccount:${NS}:`) && r.requestReceivedTimestamp >= installedAt,
    );
    const refused = calls.filter((r) => r.responseStatus?.code === 403);
    expect(refused.map((r) => `${r.user.username} ${r.verb} ${r.objectRef?.resource}`)).toEqual([]);
    // Only the operator calls the API (agents and the aggregator have no token).
    expect([...new Set(calls.map((r) => r.user.username))]).toEqual([operatorSa]);
    const used = new Set(
      calls.map(
        (r) =>
          `${r.objectRef?.apiGroup ?? ''}/${r.objectRef?.resource ?? ''}${r.objectRef?.subresource ? `/${r.objectRef.subresource}` : ''}:${r.verb}`,
      ),
    );
    const roles = JSON.parse(
      await k([
        'get',
        'clusterroles,roles',
        '-A',
        '-l',
        `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`,
        '-o',
        'json',
      ]),
    ) as { items: { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }[] };
    const granted = roles.items.flatMap((role) =>
      role.rules.flatMap((rule) =>
        rule.apiGroups.flatMap((g) => rule.resources.flatMap((res) => rule.verbs.map((v) => `${g}/${res}:${v}`))),
      ),
    );
    expect(granted.length).toBeGreaterThan(0);
    // Every grant served a call of this run: nothing granted unused.
    expect(granted.filter((g) => !used.has(g))).toEqual([]);
    expect([...used].filter((u) => u.startsWith('retrace.dev/')).length).toBeGreaterThan(0);
  });

  test('the kubectl plugin: installed by one command (beforeAll), kubectl plugin list finds it', async () => {
    const list = await clusterRun(c, 'kubectl', ['plugin', 'list']);
    expect(list).toContain(join(prefix, 'bin', 'kubectl-retrace'));
    expect(await plugin(['get', '-A'])).toMatch(/drops-a/);
  });

  test('helm uninstall: no program, link or nft table of ours is left; the CRDs stay, as documented', async () => {
    // Traces first, while the operator runs: it releases their results (its finalizer).
    await k(['delete', 'clustertraces,traces', '-A', '--all', '--wait', '--timeout=120s']);
    await k(['delete', 'namespace', 'team-a', 'team-b', '--wait']);
    await helm(c, ['uninstall', RELEASE, '-n', NS, '--wait']);
    await waitForValue(
      async () => (await k(['get', 'pods', '-n', NS, '-o', 'name'])).trim() === '',
      'the release pods gone',
      120_000,
      1000,
    );
    expect(agentPrograms.length).toBeGreaterThan(0);
    const ids = bpfProgramIds();
    expect(agentPrograms.filter((id) => ids.has(id))).toEqual([]);
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toMatch(/retrace/);
    expect(await k(['get', 'crd', 'traces.retrace.dev', '-o', 'name'])).toMatch(/traces\.retrace\.dev/);
  }, 300_000);
});
