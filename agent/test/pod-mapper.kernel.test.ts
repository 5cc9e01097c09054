// PodMapper: network namespaces (and host veth ends) to pods, from /proc. The parsers on fixed
// text, the matching on a made-up /proc tree, then the real thing: namespaces, a veth to the
// host, processes, and a kubelet-style cgroup created (and removed) for the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PodMapper,
  normalizeIp,
  parseCgroup,
  parseFibTrieLocal,
  parseIfInet6,
  parseIpLinkPeers,
  type PodRef,
} from '@retrace/agent';
import { Netns, run, tryRun, waitFor } from '@retrace/e2e';

const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const CID = 'ab'.repeat(32);

describe('parsers', () => {
  test.each([
    [`4:pids:/kubepods/besteffort/pod${UID}/${CID}`, { podUid: UID.replace(/-/g, ''), containerId: CID }],
    [
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${CID}.scope`,
      { podUid: UID.replace(/-/g, ''), containerId: CID },
    ],
    [
      `0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/crio-${CID}.scope`,
      { podUid: UID.replace(/-/g, ''), containerId: CID },
    ],
    [
      `1:name=systemd:/kubepods/burstable/pod${UID}/docker-${CID}.scope`,
      { podUid: UID.replace(/-/g, ''), containerId: CID },
    ],
    // The pod's own cgroup, and cri-o's conmon (which is no container)
    [`0::/kubepods/pod${UID.toUpperCase()}`, { podUid: UID.replace(/-/g, '') }],
    [
      `0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/crio-conmon-${CID}.scope`,
      { podUid: UID.replace(/-/g, '') },
    ],
    // cgroup v1: the pod is on one controller line only
    [
      `9:name=systemd:/\n8:pids:/kubepods/besteffort/pod${UID}/${CID}\n0::/`,
      { podUid: UID.replace(/-/g, ''), containerId: CID },
    ],
    // A container outside a pod path, and nothing at all
    [`0::/system.slice/docker-${CID}.scope`, { containerId: CID }],
    ['0::/user.slice/user-0.slice/session-1.scope\n', {}],
    ['', {}],
  ])('cgroup %#', (text, expected) => {
    expect(parseCgroup(text)).toEqual(expected);
  });

  test('fib_trie LOCAL /32 entries, loopback left out', () => {
    const trie = `Main:
  +-- 0.0.0.0/1 2 0 2
     +-- 10.99.3.0/24 2 0 2
        +-- 10.99.3.0/29 2 0 2
           |-- 10.99.3.0
              /24 link UNICAST
           |-- 10.99.3.4
              /32 host LOCAL
        |-- 10.99.3.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Local:
  +-- 0.0.0.0/1 2 0 2
           |-- 10.99.3.4
              /32 host LOCAL
`;
    expect(parseFibTrieLocal(trie)).toEqual(['10.99.3.4']);
  });

  test('if_inet6 addresses, canonical, ::1 left out', () => {
    const text =
      'fd000000000000000000000000000005 03 40 00 82       d0\n' +
      '00000000000000000000000000000001 01 80 10 80       lo\n' +
      'fe80000000000000a882e7fffe2f0878 03 40 20 c0       d0\n';
    expect(parseIfInet6(text)).toEqual(['fd00::5', 'fe80::a882:e7ff:fe2f:878']);
    expect(normalizeIp('FD00:0:0::05')).toBe('fd00::5');
    expect(normalizeIp('10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeIp('10.1.2.300')).toBeUndefined();
    expect(normalizeIp('pod')).toBeUndefined();
  });

  test('ip -j link: interfaces whose peer is in another namespace', () => {
    const json = JSON.stringify([
      { ifindex: 1, ifname: 'lo' },
      { ifindex: 2, link_index: 5, ifname: 'eth0', link_netnsid: 0 },
      { ifindex: 3, link: 'e1', ifname: 'e0' },
    ]);
    expect(parseIpLinkPeers(json)).toEqual([{ ifindex: 2, linkIndex: 5 }]);
  });
});

test('matching on a made-up /proc: cgroup first, then addresses; vanished processes are skipped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retrace-pm-'));
  try {
    const inodes: Record<string, number> = {};
    const proc = (pid: number, ns: string, cgroup: string | undefined, fib = '', inet6 = ''): void => {
      mkdirSync(join(root, String(pid), 'ns'), { recursive: true });
      mkdirSync(join(root, String(pid), 'net'), { recursive: true });
      // Processes of one namespace share the "namespace" file, as they share its inode.
      const nsFile = join(root, `ns-${ns}`);
      if (!existsSync(nsFile)) writeFileSync(nsFile, ns);
      inodes[ns] = statSync(nsFile).ino;
      // A hard link: same inode, like /proc/PID/ns/net of processes in one namespace.
      linkSync(nsFile, join(root, String(pid), 'ns', 'net'));
      if (cgroup !== undefined) writeFileSync(join(root, String(pid), 'cgroup'), cgroup);
      writeFileSync(join(root, String(pid), 'net', 'fib_trie'), fib);
      writeFileSync(join(root, String(pid), 'net', 'if_inet6'), inet6);
    };
    const fib = (ip: string): string => `Local:\n  |-- ${ip}\n     /32 host LOCAL\n`;
    proc(10, 'a', `0::/kubepods/besteffort/pod${UID}/${CID}\n`, fib('10.1.0.5'));
    proc(11, 'a', '0::/\n', fib('10.1.0.5'));
    proc(20, 'b', '0::/\n', fib('10.1.0.6'));
    proc(30, 'c', '0::/\n', '', 'fd000000000000000000000000000007 03 40 00 82 eth0\n');
    proc(40, 'd', '0::/\n', fib('10.1.0.9'));
    proc(50, 'host', '0::/\n', fib('10.1.0.8'));
    proc(60, 'e', undefined); // gone before its cgroup was read
    mkdirSync(join(root, '70')); // gone before anything was read
    const pods: PodRef[] = [
      { namespace: 'ns', name: 'by-cgroup', uid: UID, ips: ['10.1.0.99'], containers: [`containerd://${CID}`] },
      { namespace: 'ns', name: 'by-ip', uid: randomUUID(), ips: ['10.1.0.6'], containers: [] },
      { namespace: 'ns', name: 'by-ipv6', uid: randomUUID(), ips: ['fd00::7'], containers: [] },
      { namespace: 'ns', name: 'host-network', uid: randomUUID(), ips: ['10.1.0.8'], containers: [] },
    ];
    const errors: Error[] = [];
    const mapper = new PodMapper({
      pods,
      procRoot: root,
      hostNetns: [inodes['host'] ?? 0],
      hostInterfaces: false,
      onError: (e) => errors.push(e),
    });
    const stats = await mapper.refresh();
    expect(errors).toEqual([]);
    expect(stats).toMatchObject({ processes: 8, namespaces: 4, pods: 3 });
    expect(mapper.lookup(inodes['a'] ?? 0)).toEqual({ namespace: 'ns', pod: 'by-cgroup', container: CID });
    expect(mapper.lookup(inodes['b'] ?? 0)).toEqual({ namespace: 'ns', pod: 'by-ip' });
    expect(mapper.lookup(inodes['c'] ?? 0)).toEqual({ namespace: 'ns', pod: 'by-ipv6' });
    expect(mapper.lookup(inodes['d'] ?? 0)).toBeUndefined();
    expect(mapper.lookup(inodes['host'] ?? 0)).toBeUndefined();
    expect(mapper.entries().map((e) => [e.pod, e.match, e.pids])).toEqual(
      expect.arrayContaining([
        ['by-cgroup', 'cgroup', [10, 11]],
        ['by-ip', 'ip', [20]],
        ['by-ipv6', 'ip', [30]],
      ]),
    );
    expect(mapper.netnsOf([{ namespace: 'ns', name: 'by-ip' }])).toEqual([inodes['b']]);
    expect(mapper.netnsOf([{ namespace: 'x', name: 'y', uid: UID }])).toEqual([inodes['a']]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** A process sleeping in a namespace (`ip netns exec` execs it under the same pid). */
async function sleeper(ns: Netns, procs: ChildProcess[]): Promise<number> {
  const p = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '120'], { stdio: 'ignore' });
  procs.push(p);
  const pid = p.pid;
  if (pid === undefined) throw new Error('spawning ip netns exec failed');
  const inode = ns.inode;
  await waitFor(() => {
    try {
      return statSync(`/proc/${pid}/ns/net`).ino === inode;
    } catch {
      return false;
    }
  }, `pid ${pid} entering ${ns.name}`);
  return pid;
}

/** Where a kubelet-style pod cgroup can be made here: a cgroup v1 hierarchy, else cgroup2. */
function cgroupRoot(): string {
  for (const d of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'])
    if (existsSync(join(d, 'cgroup.procs'))) return d;
  throw new Error('no cgroup hierarchy to create a pod cgroup in');
}

describe('on this kernel', () => {
  const n = 100 + (process.pid % 100);
  const hostEnd = `rtlpm${process.pid % 1000000}`;
  const uid = randomUUID();
  const cid = randomBytes(32).toString('hex');
  const created: string[] = []; // cgroup directories this test made, outermost first
  const procs: ChildProcess[] = [];
  const spaces: Netns[] = [];
  let web: Netns;
  let db: Netns;
  let other: Netns;
  let hostIfindex: number;
  let pids: { web: number; webSidecar: number; db: number; other: number };
  const pods: PodRef[] = [
    { namespace: 'shop', name: 'web-0', uid, ips: [`10.99.${n}.2`], containers: [cid] },
    { namespace: 'shop', name: 'db-0', uid: randomUUID(), ips: [`FD00:99:${n}:0::2`], containers: [] },
    { namespace: 'other', name: 'gone', uid: randomUUID(), ips: ['10.98.0.9'], containers: ['cafe'] },
  ];

  beforeAll(async () => {
    web = Netns.create('pm-web');
    spaces.push(web);
    db = Netns.create('pm-db');
    spaces.push(db);
    other = Netns.create('pm-other');
    spaces.push(other);
    // The pod's veth: one end in the host namespace (left down, no address: nothing changes for
    // the host's traffic), eth0 in the pod.
    tryRun(['ip', 'link', 'del', hostEnd]);
    run(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', web.name]);
    hostIfindex = Number(readFileSync(`/sys/class/net/${hostEnd}/ifindex`, 'utf8'));
    web.ip('addr', 'add', `10.99.${n}.2/24`, 'dev', 'eth0');
    web.ip('link', 'set', 'eth0', 'up');
    // db: an IPv6 address only, on a veth pair of its own.
    db.ip('link', 'add', 'e0', 'type', 'veth', 'peer', 'name', 'e1');
    db.ip('addr', 'add', `fd00:99:${n}::2/64`, 'dev', 'e0', 'nodad');
    db.ip('link', 'set', 'e0', 'up');
    db.ip('link', 'set', 'e1', 'up');
    pids = {
      web: await sleeper(web, procs),
      webSidecar: await sleeper(web, procs),
      db: await sleeper(db, procs),
      other: await sleeper(other, procs),
    };
    // The kubelet's layout (cgroupfs driver): kubepods/besteffort/pod<uid>/<container id>, under
    // a directory of this test's own: a real kubelet on this machine (e2e/k8s) owns /kubepods.
    let dir = cgroupRoot();
    for (const part of [`rtpodmapper-${process.pid}`, 'kubepods', 'besteffort', `pod${uid}`, cid]) {
      dir = join(dir, part);
      if (!existsSync(dir)) {
        mkdirSync(dir);
        created.push(dir);
      }
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(pids.web));
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
    for (const dir of created.reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (e) {
          if ((e as { code?: string }).code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    tryRun(['ip', 'link', 'del', hostEnd]);
    for (const ns of spaces) ns.destroy();
    for (const dir of created) expect(existsSync(dir)).toBe(false);
  });

  test('pods by cgroup and by address, host veth ends, unknown namespaces', async () => {
    const errors: Error[] = [];
    const mapper = new PodMapper({ pods, onError: (e) => errors.push(e) });
    // Short-lived processes in a namespace while it scans: they vanish mid-scan, silently.
    const churn = Array.from({ length: 20 }, () =>
      spawn('ip', ['netns', 'exec', other.name, 'sleep', '0.0' + Math.floor(Math.random() * 9)], { stdio: 'ignore' }),
    );
    try {
      const stats = await mapper.refresh();
      expect(stats.pods).toBe(2);
    } finally {
      await Promise.all(churn.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))));
    }
    expect(errors).toEqual([]);

    expect(mapper.lookup(web.inode)).toEqual({ namespace: 'shop', pod: 'web-0', container: cid });
    expect(mapper.lookup(db.inode)).toEqual({ namespace: 'shop', pod: 'db-0' });
    expect(mapper.lookup(other.inode)).toBeUndefined();
    expect(mapper.lookup(statSync('/proc/self/ns/net').ino)).toBeUndefined();
    expect(mapper.lookupHostIfindex(hostIfindex)).toEqual({ namespace: 'shop', pod: 'web-0', container: cid });
    expect(mapper.lookupHostIfindex(1)).toBeUndefined();

    const entries = mapper.entries();
    const webEntry = entries.find((e) => e.inum === web.inode);
    expect(webEntry).toMatchObject({ match: 'cgroup', uid, hostIfindexes: [hostIfindex] });
    expect(webEntry?.pids).toEqual(expect.arrayContaining([pids.web, pids.webSidecar]));
    expect(webEntry?.addresses).toContain(`10.99.${n}.2`);
    const dbEntry = entries.find((e) => e.inum === db.inode);
    expect(dbEntry).toMatchObject({ match: 'ip', pids: [pids.db], hostIfindexes: [] });
    expect(dbEntry?.addresses).toContain(`fd00:99:${n}::2`);
    expect(entries).toHaveLength(2);

    expect(mapper.netnsOf()).toEqual([web.inode, db.inode].sort((a, b) => a - b));
    expect(mapper.netnsOf([{ namespace: 'shop', name: 'web-0' }])).toEqual([web.inode]);
    expect(mapper.netnsOf((p) => p.name === 'db-0')).toEqual([db.inode]);
    expect(mapper.netnsOf([{ namespace: 'other', name: 'gone' }])).toEqual([]);
  });

  test('a refresh forgets namespaces whose processes ended', async () => {
    const mapper = new PodMapper({ pods });
    await mapper.refresh();
    expect(mapper.lookup(db.inode)).toBeDefined();
    const p = procs.find((c) => c.pid === pids.db);
    await new Promise((r) => {
      p?.once('exit', r);
      p?.kill('SIGKILL');
    });
    await mapper.refresh();
    expect(mapper.lookup(db.inode)).toBeUndefined();
    expect(mapper.lookup(web.inode)).toBeDefined();
    expect(mapper.netnsOf()).toEqual([web.inode]);
  });
});
