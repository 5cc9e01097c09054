// The tester's case on this kernel: three network namespaces hold the same address; one has a
// process in team-a's pod cgroup (cgroupfs form), one a process in another pod's cgroup (systemd
// form), one a process in no pod at all. Only the first is team-a's, and a session scoped the way
// a namespaced Trace is (TraceRunner: mapper.netnsOf(spec.pods)) records nothing sent inside the
// others, not even to 127.0.0.1. Cgroups, processes and namespaces are the test's own, removed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodMapper, TracingSession, type PodRef } from '@retrace/agent';
import { Netns, waitFor } from '@retrace/e2e';
import { eventPacket, type Event } from '@retrace/events';

const n = 100 + (process.pid % 100);
const ADDRESS = `10.97.${n}.5`;
const uidA = randomUUID();
const uidB = randomUUID();
const teamA: PodRef = { namespace: 'team-a', name: 'web', uid: uidA, ips: [ADDRESS], containers: [] };
const teamB: PodRef = { namespace: 'team-b', name: 'other', uid: uidB, ips: [ADDRESS], containers: [] };

const procs: ChildProcess[] = [];
const spaces: Netns[] = [];
const created: string[] = []; // cgroup directories made here, outermost first
let a: Netns;
let b: Netns;
let bare: Netns;

/** Where pod cgroups can be made here: a cgroup v1 hierarchy, else cgroup2. */
function cgroupRoot(): string {
  for (const d of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'])
    if (existsSync(join(d, 'cgroup.procs'))) return d;
  throw new Error('no cgroup hierarchy to create a pod cgroup in');
}

/** Makes the kubelet-style path (under a directory of this test's own) and moves pid into it. */
function intoCgroup(pid: number, path: string[]): void {
  // Not the hierarchy's /kubepods: a real kubelet on this machine (e2e/k8s) owns it.
  let dir = cgroupRoot();
  for (const part of [`rtpodtest-${process.pid}`, ...path]) {
    dir = join(dir, part);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      created.push(dir);
    }
  }
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}

/** A process sleeping in a namespace (`ip netns exec` execs it under the same pid). */
async function sleeper(ns: Netns): Promise<number> {
  const p = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '300'], { stdio: 'ignore' });
  procs.push(p);
  const pid = p.pid;
  if (pid === undefined) throw new Error('spawning ip netns exec failed');
  await waitFor(() => {
    try {
      return statSync(`/proc/${pid}/ns/net`).ino === ns.inode;
    } catch {
      return false;
    }
  }, `pid ${pid} entering ${ns.name}`);
  return pid;
}

beforeAll(async () => {
  for (const label of ['ov-a', 'ov-b', 'ov-bare']) spaces.push(Netns.create(label));
  [a, b, bare] = spaces as [Netns, Netns, Netns];
  for (const ns of spaces) {
    // A veth pair kept inside the namespace: an interface to hold the address (no dummy module here).
    ns.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'e1');
    ns.ip('addr', 'add', `${ADDRESS}/24`, 'dev', 'eth0');
    ns.ip('link', 'set', 'eth0', 'up');
    ns.ip('link', 'set', 'e1', 'up');
  }
  intoCgroup(await sleeper(a), ['kubepods', 'besteffort', `pod${uidA}`, randomBytes(32).toString('hex')]);
  intoCgroup(await sleeper(b), [
    'kubepods.slice',
    'kubepods-besteffort.slice',
    `kubepods-besteffort-pod${uidB.replace(/-/g, '_')}.slice`,
    `cri-containerd-${randomBytes(32).toString('hex')}.scope`,
  ]);
  await sleeper(bare);
});

afterAll(async () => {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
  // Innermost first; a cgroup just emptied may still be busy for a moment.
  for (const dir of [...created].reverse())
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  for (const ns of spaces) ns.destroy();
  for (const dir of created) expect(existsSync(dir)).toBe(false);
});

test("only the namespace whose process is in the pod's cgroup is the pod's, whatever the addresses", async () => {
  const errors: Error[] = [];
  const mapper = new PodMapper({ pods: [teamA], hostInterfaces: false, onError: (e) => errors.push(e) });
  await mapper.refresh();
  expect(errors).toEqual([]);
  expect(mapper.lookup(a.inode)).toMatchObject({ namespace: 'team-a', pod: 'web' });
  expect(mapper.lookup(b.inode)).toBeUndefined();
  expect(mapper.lookup(bare.inode)).toBeUndefined();
  expect(mapper.netnsOf([teamA])).toEqual([a.inode]);
  expect(mapper.entries().find((e) => e.inum === a.inode)).toMatchObject({ match: 'cgroup', uid: uidA });

  // Known too (a cluster-wide trace names it), the other pod gets its own namespace only.
  mapper.setPods([teamA, teamB]);
  await mapper.refresh();
  expect(mapper.netnsOf([teamB])).toEqual([b.inode]);
  expect(mapper.netnsOf([teamA])).toEqual([a.inode]);
  expect(mapper.lookup(bare.inode)).toBeUndefined();
});

const udpPort = (ev: Event): number | undefined => {
  const l4 = eventPacket(ev)?.l4;
  return l4?.proto === 'udp' ? l4.dport : undefined;
};

test("a session scoped to team-a's pods records nothing sent inside the other namespaces", async () => {
  const mapper = new PodMapper({ pods: [teamA], hostInterfaces: false });
  await mapper.refresh();
  const events: Event[] = [];
  const session = TracingSession.start({
    collectors: ['skb,dev,ns'],
    probes: ['tp:net:net_dev_start_xmit', 'tp:net:netif_receive_skb'],
    netns: mapper.netnsOf([teamA]),
    onEvent: (ev) => events.push(ev),
  });
  try {
    // The other pod and the bare namespace first: loopback and their (shared) address.
    for (const [ns, port] of [
      [b, 9972],
      [bare, 9973],
    ] as const) {
      ns.sendUdp('127.0.0.1', port, 'not team-a');
      ns.sendUdp(ADDRESS, port, 'not team-a');
    }
    spawnSync('ip', ['netns', 'exec', b.name, 'ping', '-c', '1', '-W', '1', '127.0.0.1'], { stdio: 'ignore' });
    a.sendUdp('127.0.0.1', 9971, 'team-a');
    await waitFor(
      () => {
        session.drain();
        return events.some((e) => udpPort(e) === 9971);
      },
      "team-a's datagram",
      5000,
    );
    await new Promise((r) => setTimeout(r, 200));
    session.drain();
  } finally {
    session.stop();
  }
  expect(events.filter((e) => udpPort(e) === 9971).every((e) => e.netns?.inum === a.inode)).toBe(true);
  // What a failure shows: where each stray event came from.
  const where = (e: Event): string => `netns ${e.netns?.inum} dev ${e.dev?.name} udp ${udpPort(e)}`;
  expect(events.filter((e) => e.netns?.inum !== a.inode).map(where)).toEqual([]);
  expect(events.filter((e) => udpPort(e) === 9972 || udpPort(e) === 9973).map(where)).toEqual([]);
});
