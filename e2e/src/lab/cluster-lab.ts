// A small "cluster" on one machine: each node is a network namespace, nodes are joined by an
// underlay veth and a VXLAN overlay (VNI 1, port 4789) bridged with their pods' veths, as flannel
// does; each pod is a namespace with a process in a pod cgroup (rtlab/kubepods/besteffort/pod<uid>/<id>),
// so the agent finds pods the way it does on a real node. destroy() removes everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { Netns } from './netns.js';

export interface LabPod {
  namespace: string;
  name: string;
  uid: string;
  container: string;
  ip: string;
  node: string;
  netns: Netns;
  process: ChildProcess;
}

export interface LabNode {
  name: string;
  netns: Netns;
  underlayIp: string;
  pods: LabPod[];
}

export interface ClusterLab {
  nodes: LabNode[];
  pods: LabPod[];
  pod(name: string): LabPod;
  node(name: string): LabNode;
  /** The namespaces that make up a node (its own, then its pods'), as `--node-netns` takes them. */
  nodeNetns(name: string): string[];
  /** Pods as a trace file lists them. */
  podRefs(
    namespace?: string,
  ): { namespace: string; name: string; uid: string; ips: string[]; containers: string[]; node: string }[];
  destroy(): void;
}

export interface ClusterLabSpec {
  /** node name -> pods on it, as namespace/name */
  nodes: Record<string, string[]>;
  /** namespace/name -> pod uid, when an API server assigned them (as the kubelet gets them); else random. */
  uids?: Record<string, string>;
}

const CGROUP_ROOT = '/sys/fs/cgroup/pids';
let labs = 0;

function cgroupBase(): string {
  // cgroup v1 pids controller when mounted (this machine), else the unified hierarchy.
  if (existsSync(`${CGROUP_ROOT}/cgroup.procs`)) return CGROUP_ROOT;
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) return '/sys/fs/cgroup/unified';
  return '/sys/fs/cgroup';
}

export function clusterLab(label: string, spec: ClusterLabSpec): ClusterLab {
  const subnet = 100 + ((process.pid + labs++) % 100);
  const nodes: LabNode[] = [];
  const pods: LabPod[] = [];
  const cgroups: string[] = [];
  const switches: Netns[] = [];
  const base = cgroupBase();
  const destroy = (): void => {
    for (const p of pods) p.process.kill('SIGKILL');
    for (const dir of cgroups.reverse())
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25); // the killed process leaving
        }
      }
    for (const p of pods) p.netns.destroy();
    for (const n of nodes) n.netns.destroy();
    for (const s of switches) s.destroy();
  };
  const node = (name: string): LabNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in the lab`);
    return n;
  };
  const lab: ClusterLab = {
    nodes,
    pods,
    pod: (name) => {
      const p = pods.find((x) => x.name === name || `${x.namespace}/${x.name}` === name);
      if (!p) throw new Error(`no pod ${name} in the lab`);
      return p;
    },
    node,
    nodeNetns: (name) => {
      const n = node(name);
      return [n.netns.name, ...n.pods.map((p) => p.netns.name)];
    },
    podRefs: (namespace) =>
      pods
        .filter((p) => !namespace || p.namespace === namespace)
        .map((p) => ({
          namespace: p.namespace,
          name: p.name,
          uid: p.uid,
          ips: [p.ip],
          containers: [p.container],
          node: p.node,
        })),
    destroy,
  };
  try {
    const names = Object.keys(spec.nodes);
    names.forEach((name, i) => {
      const ns = Netns.create(`${label}-${name}`);
      nodes.push({ name, netns: ns, underlayIp: `192.168.${subnet}.${i + 1}`, pods: [] });
    });
    // Underlay: a switch (a bridge in a namespace of its own, part of no node) joins every
    // node's uplink (u0).
    const hub = { netns: Netns.create(`${label}-switch`) };
    switches.push(hub.netns);
    hub.netns.ip('link', 'add', 'uhub', 'type', 'bridge');
    hub.netns.ip('link', 'set', 'uhub', 'up');
    nodes.forEach((n, i) => {
      const peer = `up${i}`;
      n.netns.ip('link', 'add', 'u0', 'type', 'veth', 'peer', 'name', peer, 'netns', hub.netns.name);
      hub.netns.ip('link', 'set', peer, 'master', 'uhub');
      hub.netns.ip('link', 'set', peer, 'up');
      n.netns.ip('addr', 'add', `${n.underlayIp}/24`, 'dev', 'u0');
      n.netns.ip('link', 'set', 'u0', 'up');
      n.netns.ip('link', 'add', 'br0', 'type', 'bridge');
      n.netns.ip('link', 'set', 'br0', 'up');
      n.netns.ip(
        'link',
        'add',
        'vx0',
        'type',
        'vxlan',
        'id',
        '1',
        'dstport',
        '4789',
        'local',
        n.underlayIp,
        'dev',
        'u0',
        'nolearning',
      );
      n.netns.ip('link', 'set', 'vx0', 'master', 'br0');
      n.netns.ip('link', 'set', 'vx0', 'up');
    });
    // Flooding entries: every node's VXLAN sends unknown destinations to every other node.
    for (const n of nodes)
      for (const o of nodes)
        if (o !== n) n.netns.exec(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', o.underlayIp]);
    let podIdx = 0;
    for (const n of nodes)
      for (const full of spec.nodes[n.name] ?? []) {
        const [namespace, name] = full.includes('/') ? (full.split('/') as [string, string]) : ['default', full];
        const pns = Netns.create(`${label}-${name}`);
        const ip = `10.${subnet}.0.${++podIdx + 10}`;
        const hostIf = `veth${podIdx}`;
        pns.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hostIf, 'netns', n.netns.name);
        pns.ip('addr', 'add', `${ip}/24`, 'dev', 'eth0');
        pns.ip('link', 'set', 'eth0', 'up');
        pns.ip('link', 'set', 'lo', 'up');
        n.netns.ip('link', 'set', hostIf, 'master', 'br0');
        n.netns.ip('link', 'set', hostIf, 'up');
        const uid = spec.uids?.[`${namespace}/${name}`] ?? randomUUID();
        const container = randomBytes(32).toString('hex');
        const proc = spawn('ip', ['netns', 'exec', pns.name, 'sleep', '3600'], { stdio: 'ignore' });
        // Under rtlab/, not the hierarchy's root: a real kubelet on this machine (e2e/k8s) owns
        // /kubepods and removes pod cgroups it does not know.
        const root = `${base}/rtlab/kubepods`;
        const podDir = `${root}/besteffort/pod${uid}`;
        for (const d of [`${base}/rtlab`, root, `${root}/besteffort`, podDir, `${podDir}/${container}`])
          if (!existsSync(d)) {
            mkdirSync(d);
            cgroups.push(d);
          }
        const pod: LabPod = { namespace, name, uid, container, ip, node: n.name, netns: pns, process: proc };
        pods.push(pod);
        n.pods.push(pod);
        writeFileSync(`${podDir}/${container}/cgroup.procs`, String(proc.pid));
      }
  } catch (e) {
    destroy();
    throw e;
  }
  return lab;
}
