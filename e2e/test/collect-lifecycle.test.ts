// How collect starts and stops: --cmd, --stop-after, --duration, SIGINT and SIGTERM all leave a
// complete file of valid JSON lines (startup first) and nothing attached; bad input is refused
// with a message that says what to change.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Netns, runRetrace, startCollect } from '@retrace/e2e';
import { probeFeatures } from '@retrace/ebpf-loader';
import { expectNothingLoaded, ourProgramsLoaded, readEvents, tempDir } from './helpers.js';

const tmp = tempDir();
let ns: Netns;

beforeAll(() => {
  ns = Netns.create('life');
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

function pingArgs(count: number): string {
  return `ip netns exec ${ns.name} ping -c ${count} -i 0.05 127.0.0.1 >/dev/null`;
}

function checkFile(path: string): ReturnType<typeof readEvents> {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const events = readEvents(path); // throws on any invalid line
  expect(events[0]?.startup?.cmdline).toMatch(/collect/);
  expect(events.slice(1).every((e) => !e.startup)).toBe(true);
  return events;
}

test('--cmd runs the command and stops when it exits; its traffic is in the file', async () => {
  const out = `${tmp.dir}/cmd.json`;
  const r = runRetrace(['collect', '-c', 'skb,skb-tracking,dev,ns', '--cmd', pingArgs(3), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/stopped: command exited \(0\)/);
  const events = checkFile(out);
  const mine = events.filter((e) => e.netns?.inum === ns.inode);
  // 3 requests and 3 replies, each seen leaving and arriving on lo
  expect(mine.length).toBeGreaterThanOrEqual(12);
  await expectNothingLoaded();
});

test('--stop-after N writes exactly N events and stops by itself', async () => {
  const out = `${tmp.dir}/stop-after.json`;
  const traffic = spawn('ip', ['netns', 'exec', ns.name, 'ping', '-i', '0.02', '127.0.0.1'], { stdio: 'ignore' });
  try {
    const r = runRetrace(['collect', '-c', 'skb,dev,ns', '--stop-after', '5', '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/--stop-after 5 reached/);
    expect(checkFile(out).filter((e) => e.kernel)).toHaveLength(5);
  } finally {
    traffic.kill();
  }
  await expectNothingLoaded();
});

test.each(['SIGINT', 'SIGTERM'] as const)(
  '%s stops cleanly: everything seen is flushed, nothing stays attached',
  async (sig) => {
    const out = `${tmp.dir}/${sig}.json`;
    const c = startCollect(['-c', 'skb,skb-tracking,dev,ns', '-o', out]);
    await c.ready;
    expect(ourProgramsLoaded().length).toBeGreaterThan(0);
    ns.exec(['ping', '-c', '2', '-i', '0.05', '127.0.0.1']);
    const r = await c.stop(sig);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`stopped: ${sig}`);
    const events = checkFile(out);
    expect(events.filter((e) => e.netns?.inum === ns.inode).length).toBeGreaterThanOrEqual(8);
    const written = Number(/(\d+) event\(s\) written/.exec(r.stderr)?.[1]);
    expect(events.length - 1).toBe(written);
    await expectNothingLoaded();
  },
);

test('--duration stops after the given time', () => {
  const out = `${tmp.dir}/duration.json`;
  const r = runRetrace(['collect', '-c', 'skb', '--duration', '300ms', '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/--duration 0.3s elapsed/);
  checkFile(out);
});

test('without -o events are printed as text', () => {
  const r = runRetrace(['collect', '-c', 'skb,skb-tracking,dev,ns', '--cmd', pingArgs(1), '--format', 'single-line']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /\[tp\] net:net_dev_start_xmit #[0-9a-f]+ \(skb [0-9a-f]+\).*127\.0\.0\.1 > 127\.0\.0\.1.*proto ICMP \(1\) type 8 code 0/,
  );
});

test('a kprobe on a kernel without kprobes fails naming the missing feature and a tracepoint to use', async () => {
  const f = probeFeatures();
  const r = runRetrace(['collect', '-p', 'kprobe:ip_rcv', '--duration', '1']);
  if (f.kprobe.available || f.kprobe_multi.available || f.fentry.available) {
    expect(r.code).toBe(0);
    return;
  }
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /probe 'kprobe:ip_rcv' cannot be attached: this kernel lacks kprobes \(CONFIG_KPROBES\).*use a tracepoint instead \(e\.g\. -p tp:net:netif_receive_skb/,
  );
  await expectNothingLoaded();
});

test.each([
  [['-p', 'tp:net:no_such_tracepoint'], /probe 'tp:net:no_such_tracepoint' matches nothing on this kernel/],
  [['-p', 'bogus:type:too:many'], /invalid probe 'bogus:type:too:many'.*expected \[TYPE:\]TARGET/],
  [['-p', 'tp:sched:sched_switch'], /no collector can read from it: it has no struct sk_buff \* argument/],
  [['-p', 'tp:net:netif_receive_skb/nostack'], /unknown option '\/nostack'/],
  [['-c', 'skb,frobnicate'], /unknown collector 'frobnicate'; known: auto, skb-tracking/],
  [['--stop-after', 'many'], /--stop-after must be a positive integer, got 'many'/],
  [['--ring-size', '1000'], /--ring-size must be a power of two/],
])('bad input %j is refused with a clear message', (args, message) => {
  const r = runRetrace(['collect', ...args, '--duration', '1']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
});

test('inspect lists usable tracepoints with their mechanism, wildcards keeping only skb ones', () => {
  const r = runRetrace(['inspect', '-p', 'tp:skb:*']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^tp:skb:kfree_skb {2}raw_tp(_cookie)? {2}skb=arg1 reason=arg3/m);
  expect(r.stdout).toMatch(/^tp:skb:consume_skb /m);
  expect(r.stdout).not.toMatch(/skb:kfree_skb_partial|no sk_buff/);
  const sched = runRetrace(['inspect', '-p', 'tp:sched:*']);
  expect(sched.code).toBe(1);
  expect(sched.stdout).toMatch(/none of its matches has a struct sk_buff \* argument/);
});

test('the default probes are netif_receive_skb and net_dev_start_xmit', () => {
  const r = runRetrace(['collect', '-c', 'skb', '--duration', '100ms', '-o', `${tmp.dir}/defaults.json`]);
  expect(r.stderr).toMatch(
    /2 probe\(s\) attached in \d+ ms: net:netif_receive_skb \(raw_tp\w*\), net:net_dev_start_xmit \(raw_tp\w*\)/,
  );
});
