// A namespace's pod is decided by its processes' identity (pod uid from their cgroups, or a
// container id the runtime reported), never by an address when they have one. Made-up /proc
// trees (PodMapperOptions.procRoot): each case a namespaced trace's scope depends on.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodMapper, type PodRef } from '@retrace/agent';
import { PodNetnsConflictError } from '../src/k8s/netns-owner.js';

const cid = (): string => randomBytes(32).toString('hex');
/** cgroupfs driver: kubepods/<qos>/pod<uid>/<container>. */
const cgroupfs = (uid: string, container: string): string =>
  `4:pids:/kubepods/besteffort/pod${uid}/${container}\n0::/\n`;
/** systemd driver: kubepods-<qos>-pod<uid with underscores>.slice/cri-containerd-<id>.scope. */
const systemd = (uid: string, container: string): string =>
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${container}.scope\n`;
/** A process outside any pod (a node shell's `ip netns exec`). */
const NONE = '0::/user.slice/user-0.slice/session-3.scope\n';
const fib = (...ips: string[]): string => `Local:\n${ips.map((ip) => `  |-- ${ip}\n     /32 host LOCAL\n`).join('')}`;

/** A made-up /proc: processes, their namespace (a shared inode, as /proc/PID/ns/net), cgroup and addresses. */
class FakeProc {
  readonly root = mkdtempSync(join(tmpdir(), 'retrace-pid-'));
  private readonly inodes = new Map<string, number>();

  proc(pid: number, ns: string, cgroup: string, ...ips: string[]): this {
    const dir = join(this.root, String(pid));
    mkdirSync(join(dir, 'ns'), { recursive: true });
    mkdirSync(join(dir, 'net'), { recursive: true });
    const nsFile = join(this.root, `ns-${ns}`);
    if (!existsSync(nsFile)) writeFileSync(nsFile, ns);
    this.inodes.set(ns, statSync(nsFile).ino);
    linkSync(nsFile, join(dir, 'ns', 'net'));
    writeFileSync(join(dir, 'cgroup'), cgroup);
    writeFileSync(join(dir, 'net', 'fib_trie'), fib(...ips));
    writeFileSync(join(dir, 'net', 'if_inet6'), '');
    return this;
  }

  /** The process ended. */
  end(pid: number): void {
    rmSync(join(this.root, String(pid)), { recursive: true, force: true });
  }

  /** The agent's own cgroup (/proc/self/cgroup). */
  self(cgroup: string): void {
    mkdirSync(join(this.root, 'self'), { recursive: true });
    writeFileSync(join(this.root, 'self', 'cgroup'), cgroup);
  }

  inode(ns: string): number {
    const n = this.inodes.get(ns);
    if (n === undefined) throw new Error(`no namespace ${ns} in the fake /proc`);
    return n;
  }

  mapper(pods: PodRef[], errors: Error[] = []): PodMapper {
    // 'host' stands for the node's namespace (hostNetwork pods share it).
    const host = this.inodes.get('host');
    return new PodMapper({
      pods,
      procRoot: this.root,
      hostNetns: host === undefined ? [] : [host],
      hostInterfaces: false,
      onError: (e) => errors.push(e),
    });
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

const pod = (namespace: string, name: string, ips: string[], containers: string[] = []): PodRef => ({
  namespace,
  name,
  uid: randomUUID(),
  ips,
  containers,
});

let fake: FakeProc;
beforeEach(() => {
  fake = new FakeProc();
});
afterEach(() => {
  fake.remove();
});

describe('overlapping addresses', () => {
  test("another pod's namespace holding the trace pod's address stays out of its scope", async () => {
    const a = pod('team-a', 'web', ['10.2.0.5']);
    const b = pod('team-b', 'intruder', ['10.2.0.5']); // not a pod of any trace here
    fake.proc(10, 'a', cgroupfs(a.uid, cid()), '10.2.0.5');
    fake.proc(20, 'b', systemd(b.uid, cid()), '10.2.0.5');
    const errors: Error[] = [];
    const m = fake.mapper([a], errors);
    await m.refresh();
    expect(m.lookup(fake.inode('a'))).toMatchObject({ namespace: 'team-a', pod: 'web' });
    expect(m.lookup(fake.inode('b'))).toBeUndefined();
    expect(m.netnsOf([a])).toEqual([fake.inode('a')]);
    expect(errors).toEqual([]);

    // With the other pod known too (a cluster-wide trace names it), each namespace is its own pod's.
    m.setPods([a, b]);
    await m.refresh();
    expect(m.lookup(fake.inode('b'))).toMatchObject({ namespace: 'team-b', pod: 'intruder' });
    expect(m.netnsOf([a])).toEqual([fake.inode('a')]);
    expect(m.netnsOf([b])).toEqual([fake.inode('b')]);
  });

  test("the trace pod not (yet) on this node: the other pod's namespace is not taken for it", async () => {
    const a = pod('team-a', 'web', ['10.2.0.5']);
    fake.proc(20, 'b', systemd(randomUUID(), cid()), '10.2.0.5');
    // A container the runtime made outside any pod cgroup is an identity too.
    fake.proc(30, 'c', `0::/system.slice/docker-${cid()}.scope\n`, '10.2.0.5');
    const m = fake.mapper([a]);
    await m.refresh();
    expect(m.netnsOf([a])).toEqual([]);
    expect(m.lookup(fake.inode('b'))).toBeUndefined();
    expect(m.lookup(fake.inode('c'))).toBeUndefined();
    expect(m.entries()).toEqual([]);
  });

  test('the address fallback: only namespaces without any identity, only one of them, only a pod not found by identity', async () => {
    const a = pod('team-a', 'web', ['10.2.0.5']);
    const lone = pod('team-a', 'bare', ['10.2.0.7']);
    const twice = pod('team-a', 'twice', ['10.2.0.8']);
    fake.proc(10, 'a', cgroupfs(a.uid, cid()), '10.2.0.5');
    fake.proc(11, 'tester', NONE, '10.2.0.5'); // same address as web, no identity: web is found already
    fake.proc(12, 'bare', NONE, '10.2.0.7');
    fake.proc(13, 'copy1', NONE, '10.2.0.8');
    fake.proc(14, 'copy2', NONE, '10.2.0.8');
    const m = fake.mapper([a, lone, twice]);
    await m.refresh();
    expect(m.entries().map((e) => [e.inum, e.pod, e.match])).toEqual(
      [
        [fake.inode('a'), 'web', 'cgroup'],
        [fake.inode('bare'), 'bare', 'ip'],
      ].sort((x, y) => Number(x[0]) - Number(y[0])),
    );
    expect(m.lookup(fake.inode('tester'))).toBeUndefined();
    expect(m.netnsOf([twice])).toEqual([]);
  });
});

test('hostNetwork pods: the node namespace is never theirs, nor a namespace holding the node address', async () => {
  const hostPod = pod('team-a', 'node-exporter', ['192.0.2.10']);
  fake.proc(1, 'host', NONE, '192.0.2.10');
  fake.proc(40, 'host', cgroupfs(hostPod.uid, cid()), '192.0.2.10');
  // A namespace that is no pod's with the node's address (a lab "node", a VPN's): no identity.
  fake.proc(41, 'other-node', NONE, '192.0.2.10');
  const m = fake.mapper([hostPod]);
  await m.refresh();
  expect(m.netnsOf([hostPod])).toEqual([]);
  expect(m.lookup(fake.inode('host'))).toBeUndefined();
  expect(m.lookup(fake.inode('other-node'))).toBeUndefined();
  expect(m.netnsOf()).toEqual([]);
});

test('a reused address after the pod is replaced: the new pod is not the old one, the old namespace leaves', async () => {
  const old = pod('team-a', 'web-0', ['10.2.0.5']);
  const replacement = pod('team-a', 'web-0', ['10.2.0.5']); // same name and address, new uid
  fake.proc(10, 'old', cgroupfs(old.uid, cid()), '10.2.0.5');
  const m = fake.mapper([old]);
  await m.refresh();
  expect(m.netnsOf([old])).toEqual([fake.inode('old')]);

  // The old pod is gone, the new one holds its address; the trace still names the old uid.
  fake.end(10);
  fake.proc(20, 'new', systemd(replacement.uid, cid()), '10.2.0.5');
  await m.refresh();
  expect(m.netnsOf([old])).toEqual([]);
  expect(m.lookup(fake.inode('new'))).toBeUndefined();

  // The trace is told of the new pod.
  m.setPods([replacement]);
  await m.refresh();
  expect(m.netnsOf([replacement])).toEqual([fake.inode('new')]);
  expect(m.netnsOf([old])).toEqual([]);
  expect(m.entries().map((e) => e.uid)).toEqual([replacement.uid]);

  // Both known while the old one terminates: each namespace is its own pod's, and the address
  // both list maps no namespace without identity.
  fake.proc(10, 'old', cgroupfs(old.uid, cid()), '10.2.0.5');
  fake.proc(30, 'bare', NONE, '10.2.0.5');
  m.setPods([old, replacement]);
  await m.refresh();
  expect(m.netnsOf([old])).toEqual([fake.inode('old')]);
  expect(m.netnsOf([replacement])).toEqual([fake.inode('new')]);
  expect(m.lookup(fake.inode('bare'))).toBeUndefined();
});

describe('a namespace shared by containers', () => {
  test('the sandbox and every container of one pod, both cgroup forms: one pod', async () => {
    const pause = cid();
    const app = cid();
    const sidecar = cid();
    const p = pod('shop', 'web', ['10.2.0.5'], [`containerd://${app}`, `containerd://${sidecar}`]);
    fake.proc(10, 'web', systemd(p.uid, pause), '10.2.0.5');
    fake.proc(11, 'web', systemd(p.uid, app), '10.2.0.5');
    fake.proc(12, 'web', cgroupfs(p.uid, sidecar), '10.2.0.5');
    // cri-o's conmon sits in the pod's slice too, and is no container.
    fake.proc(13, 'web', `0::/kubepods.slice/kubepods-pod${p.uid.replace(/-/g, '_')}.slice/crio-conmon-${app}.scope\n`);
    // A container only the runtime's scope names, listed by the pod.
    fake.proc(14, 'web', `0::/system.slice/docker-${sidecar}.scope\n`);
    const errors: Error[] = [];
    const m = fake.mapper([p], errors);
    await m.refresh();
    // Two of the pod's listed containers are here: the namespace does not tell one apart.
    expect(m.lookup(fake.inode('web'))).toEqual({ namespace: 'shop', pod: 'web' });
    expect(m.entries()[0]).toMatchObject({ match: 'cgroup', pids: [10, 11, 12, 13, 14] });
    expect(errors).toEqual([]);

    // One listed container (beside the unlisted pause): it is named.
    fake.end(12);
    fake.end(14);
    await m.refresh();
    expect(m.lookup(fake.inode('web'))).toEqual({ namespace: 'shop', pod: 'web', container: app });
  });

  test('processes of two pods in one namespace: refused, reported once while it lasts', async () => {
    const a = pod('team-a', 'web', ['10.2.0.5']);
    const b = pod('team-b', 'db', ['10.2.0.6']);
    const unknownUid = randomUUID();
    fake.proc(10, 'shared', cgroupfs(a.uid, cid()), '10.2.0.5');
    fake.proc(11, 'shared', systemd(b.uid, cid()), '10.2.0.5');
    fake.proc(20, 'db', systemd(b.uid, cid()), '10.2.0.6');
    const errors: Error[] = [];
    const m = fake.mapper([a, b], errors);
    await m.refresh();
    expect(m.lookup(fake.inode('shared'))).toBeUndefined();
    expect(m.netnsOf([a])).toEqual([]);
    expect(m.netnsOf([b])).toEqual([fake.inode('db')]);
    expect(errors).toHaveLength(1);
    const err = errors[0];
    expect(err).toBeInstanceOf(PodNetnsConflictError);
    expect(err?.message).toContain(`network namespace ${fake.inode('shared')} (pids 10, 11)`);
    expect(err?.message).toContain(`pod team-a/web (uid ${a.uid})`);
    expect(err?.message).toContain(`pod team-b/db (uid ${b.uid})`);
    expect(err?.message).toMatch(/in no trace scope.*stop it/);
    expect(m.refused()).toEqual([{ inum: fake.inode('shared'), pids: [10, 11], claims: expect.any(Array) }]);

    await m.refresh();
    expect(errors).toHaveLength(1); // said once
    expect(m.lookup(fake.inode('shared'))).toBeUndefined();

    // The intruder leaves: the namespace is web's again.
    fake.end(11);
    await m.refresh();
    expect(m.netnsOf([a])).toEqual([fake.inode('shared')]);
    expect(m.refused()).toEqual([]);

    // A pod no trace here knows joins: refused again, and said again.
    fake.proc(12, 'shared', cgroupfs(unknownUid, cid()));
    await m.refresh();
    expect(m.netnsOf([a])).toEqual([]);
    expect(errors).toHaveLength(2);
    expect(errors[1]?.message).toContain(`a pod not traced here (uid ${unknownUid})`);
  });

  test("the agent's own helpers (its cgroup) in a pod's namespace are not a second pod", async () => {
    const agentCgroup = cgroupfs(randomUUID(), cid());
    fake.self(agentCgroup);
    const p = pod('shop', 'web', ['10.2.0.5']);
    fake.proc(10, 'web', cgroupfs(p.uid, cid()), '10.2.0.5');
    fake.proc(11, 'web', agentCgroup, '10.2.0.5'); // nsenter --net=... ip
    const errors: Error[] = [];
    const m = fake.mapper([p], errors);
    await m.refresh();
    expect(m.netnsOf([p])).toEqual([fake.inode('web')]);
    expect(errors).toEqual([]);
  });
});
