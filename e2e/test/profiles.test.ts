// Profiles on the real kernel: retis's own profile files load and trace (ifdump, dropmon),
// generic fails here for lack of kprobes, retrace's drops profile works without them, a
// profile's pcap entry picks the probe, and bad profiles are refused with what to fix.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, runRetrace } from '@retrace/e2e';
import { probeFeatures } from '@retrace/ebpf-loader';
import { trackingId, type Event } from '@retrace/events';
import { expectNothingLoaded, readEvents, tempDir } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'e2e', 'fixtures', 'retis-profiles');
const builtin = join(root, 'profiles');
const tmp = tempDir();
let ns: Netns;

beforeAll(() => {
  ns = Netns.create('prof');
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

const ping = (): string => `ip netns exec ${ns.name} ping -c 1 127.0.0.1 >/dev/null`;
/** A datagram to a port nobody listens on: the kernel drops it with NO_SOCKET. */
const udpToClosedPort = (): string => `ip netns exec ${ns.name} bash -c 'echo drop-me > /dev/udp/127.0.0.1/9'`;
const ours = (events: Event[]): Event[] => events.filter((e) => e.kernel && e.netns?.inum === ns.inode);

function profileDir(name: string, files: Record<string, string>): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

test("profile list shows the profiles of retis's four files, and the built-in ones", () => {
  const r = runRetrace(['-P', fixtures, 'profile', 'list']);
  expect(r.code).toBe(0);
  const expected: [string, string][] = [
    ['dropmon', 'drop.yaml'],
    ['nft-dropmon', 'drop.yaml'],
    ['example-profile', 'example.yaml'],
    ['generic', 'generic.yaml'],
    ['ifdump', 'ifdump.yaml'],
  ];
  for (const [name, file] of expected)
    expect(r.stdout).toMatch(new RegExp(`^${name} +\\S.*\\n +${join(fixtures, file)}\\n`, 'm'));
  expect(r.stdout).toMatch(/^example-profile +Collects information from a certain area of the networking stack$/m);
  // the same names in the built-in directory come after, hidden by the -P ones
  expect(r.stdout).toContain(`${join(builtin, 'drop.yaml')} (hidden by the one in ${fixtures})`);

  const plain = runRetrace(['profile', 'list']);
  expect(plain.code).toBe(0);
  for (const name of ['dropmon', 'nft-dropmon', 'drops', 'generic', 'ifdump'])
    expect(plain.stdout).toMatch(new RegExp(`^${name} `, 'm'));
  expect(plain.stdout).toContain(join(builtin, 'drops.yaml'));
  // -P is also an option of `profile list` itself
  expect(runRetrace(['profile', 'list', '-P', fixtures]).stdout).toMatch(/^example-profile /m);
});

test("retis's ifdump traces: events from netif_receive_skb and net_dev_start_xmit only, its flags after the user's", async () => {
  const out = `${tmp.dir}/ifdump.json`;
  const r = runRetrace(['-P', fixtures, '-p', 'ifdump', 'collect', '-c', 'skb,dev,ns', '--cmd', ping(), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    'profile ifdump: applying collect entry 1: --probe tp:net:netif_receive_skb --probe tp:net:net_dev_start_xmit',
  );
  const events = readEvents(out);
  expect(events[0]?.startup?.cmdline).toMatch(
    new RegExp(`-o ${out} --probe tp:net:netif_receive_skb --probe tp:net:net_dev_start_xmit$`),
  );
  const mine = ours(events);
  // request and reply, each leaving and arriving on lo
  expect(mine.length).toBeGreaterThanOrEqual(4);
  expect(new Set(mine.map((e) => e.kernel?.symbol))).toEqual(
    new Set(['net:netif_receive_skb', 'net:net_dev_start_xmit']),
  );
  expect(mine.every((e) => e.dev?.name === 'lo' && e.packet)).toBe(true);
  await expectNothingLoaded();
});

test("a profile's probes add to collect's own -p (retrace -p PROFILE collect -p PROBE)", () => {
  const out = `${tmp.dir}/ifdump-plus.json`;
  const r = runRetrace([
    '-P',
    fixtures,
    '-p',
    'ifdump',
    'collect',
    '-c',
    'skb,dev,ns',
    '-p',
    'tp:skb:kfree_skb',
    '--cmd',
    udpToClosedPort(),
    '-o',
    out,
  ]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(
    /3 probe\(s\) attached in \d+ ms: skb:kfree_skb .*net:netif_receive_skb .*net:net_dev_start_xmit/,
  );
  const symbols = new Set(ours(readEvents(out)).map((e) => e.kernel?.symbol));
  expect(symbols).toEqual(new Set(['skb:kfree_skb', 'net:netif_receive_skb', 'net:net_dev_start_xmit']));
});

test("retis's dropmon reports the drop with its reason and the kernel stack that freed the packet", async () => {
  const out = `${tmp.dir}/dropmon.json`;
  const r = runRetrace(['-P', fixtures, '-p', 'dropmon', 'collect', '--cmd', udpToClosedPort(), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    'profile dropmon: applying collect entry 1: --collectors skb-drop,skb,dev,ns --probe tp:skb:kfree_skb/stack',
  );
  const drops = ours(readEvents(out));
  expect(drops.length).toBeGreaterThanOrEqual(1);
  expect(drops.every((e) => e.kernel?.symbol === 'skb:kfree_skb')).toBe(true);
  const drop = drops.find((e) => e['skb-drop']?.drop_reason === 'NO_SOCKET');
  expect(drop).toBeDefined();
  expect(drop?.kernel?.stack_trace?.length).toBeGreaterThan(2);
  expect(drop?.kernel?.stack_trace?.some((f) => /udp/.test(f))).toBe(true);
  await expectNothingLoaded();
});

test("retis's generic profile needs kprobes: here it fails naming CONFIG_KPROBES", async () => {
  const f = probeFeatures();
  const r = runRetrace(['-P', fixtures, '-p', 'generic', 'collect', '--duration', '1', '-o', `${tmp.dir}/g.json`]);
  expect(r.stderr).toMatch(
    /profile generic: applying collect entry 1: --collectors auto --probe tp:net:netif_receive_skb/,
  );
  if (f.kprobe.available || f.kprobe_multi.available || f.fentry.available) {
    expect(r.code).toBe(0);
    return;
  }
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /probe 'kprobe:arp_process' cannot be attached: this kernel lacks kprobes \(CONFIG_KPROBES\)/,
  );
  await expectNothingLoaded();
});

const dropsFile = (): string => `${tmp.dir}/drops.json`;

test("retrace's drops profile runs without kprobes: the dropped packet followed from the device to its drop, with a stack", async () => {
  const r = runRetrace(['-p', 'drops', 'collect', '--cmd', udpToClosedPort(), '-o', dropsFile()]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    'profile drops: applying collect entry 1: --collectors auto --probe tp:net:netif_receive_skb --probe tp:net:net_dev_start_xmit --probe tp:skb:kfree_skb/stack --nft-verdicts drop',
  );
  expect(r.stderr).not.toMatch(/kprobe/);
  const mine = ours(readEvents(dropsFile()));
  const drop = mine.find((e) => e['skb-drop']?.drop_reason === 'NO_SOCKET');
  expect(drop?.kernel?.stack_trace?.length).toBeGreaterThan(2);
  const id = drop?.['skb-tracking'] && trackingId(drop['skb-tracking']);
  expect(id).toBeDefined();
  const journey = mine.filter((e) => e['skb-tracking'] && trackingId(e['skb-tracking']) === id);
  expect(journey.map((e) => e.kernel?.symbol)).toEqual(
    expect.arrayContaining(['net:net_dev_start_xmit', 'net:netif_receive_skb', 'skb:kfree_skb']),
  );
  await expectNothingLoaded();
});

test("retrace -p dropmon pcap keeps only the pcap entry's probe (kfree_skb)", () => {
  const all = runRetrace(['pcap', dropsFile(), '-o', `${tmp.dir}/all.pcapng`]);
  expect(all.code).toBe(0);
  expect(all.stderr).toMatch(/from 3 probe\(s\)/);
  const out = `${tmp.dir}/drops.pcapng`;
  const r = runRetrace(['-p', 'dropmon', 'pcap', dropsFile(), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('profile dropmon: applying pcap entry 1: --probe tp:skb:kfree_skb');
  const drops = readEvents(dropsFile()).filter((e) => e.kernel?.symbol === 'skb:kfree_skb' && e.packet);
  expect(r.stderr).toContain(`${drops.length} packet(s) from 1 probe(s) written to ${out}`);
  const t = spawnSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8' });
  expect(t.status).toBe(0);
  expect(new Set(t.stdout.trim().split('\n'))).toEqual(new Set(['raw_tracepoint/skb:kfree_skb']));
});

test('an unknown profile name lists the profiles there are and where they were looked for', () => {
  const r = runRetrace(['-p', 'dropmonn', 'collect', '--duration', '1']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/no profile named 'dropmonn'; available: .*dropmon, drops, generic, ifdump, nft-dropmon/);
  expect(r.stderr).toContain(builtin);
  expect(r.stderr).toContain('/etc/retrace/profiles');
});

test('bad profiles are refused before tracing, naming the file, line, entry and key', () => {
  const dir = profileDir('bad', {
    'broken.yaml': 'version: 1.0\nname: broken\ncollect:\n  - args: {probe: [tp:net:netif_rx}\n',
    'ovs.yaml':
      'version: 1.0\nname: ovs\ncollect:\n  - name: with ovs\n    args:\n      collectors: skb\n      no-such-option: ~\n',
  });
  const broken = runRetrace(['-p', join(dir, 'broken.yaml'), 'collect', '--duration', '1']);
  expect(broken.code).toBe(2);
  expect(broken.stderr).toMatch(new RegExp(`profile file ${join(dir, 'broken.yaml')} line \\d+: invalid YAML`));
  const ovs = runRetrace(['-P', dir, '-p', 'ovs', 'collect', '--duration', '1']);
  expect(ovs.code).toBe(2);
  expect(ovs.stderr).toContain(
    `profile ovs (${join(dir, 'ovs.yaml')}), collect entry 1 'with ovs': 'no-such-option' (line 7): retrace collect has no --no-such-option option`,
  );
  expect(ovs.stderr).toContain(`warning: skipped profile file ${join(dir, 'broken.yaml')} line`);
  const typo = runRetrace(['-P', `${dir}-typo`, '-p', 'ovs', 'collect', '--duration', '1']);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain(`-P ${dir}-typo: no such directory`);
  const print = runRetrace(['-P', fixtures, '-p', 'ifdump', 'print', dropsFile()]);
  expect(print.code).toBe(2);
  expect(print.stderr).toMatch(/-p\/--profile applies to collect, pcap and create, not print/);
});

test('format versions: 2.0 is skipped with a warning naming the file, 1.9 is read with a partial-support warning', () => {
  const dir = profileDir('versions', {
    'future.yaml': 'version: 2.0\nname: future\nabout: from the future\n',
    'newer.yaml':
      'version: 1.9\nname: newer\nabout: a newer minor\nhints: [x]\ncollect:\n  - args: {collectors: skb}\n',
  });
  const r = runRetrace(['-P', dir, 'profile', 'list']);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`${join(dir, 'future.yaml')}: profile future has format version 2.0`);
  expect(r.stderr).toMatch(/newer\.yaml: profile newer has format version 1\.9.*partial support/);
  expect(r.stdout).toMatch(/^newer +a newer minor$/m);
  expect(r.stdout).not.toMatch(/^future/m);
  const run = runRetrace(['-P', dir, '-p', 'future', 'collect', '--duration', '1']);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/no profile named 'future'.*future\.yaml has a 'future' of another format version/);
});
