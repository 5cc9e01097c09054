// collect -m in a lab: sk_buff.mark set by nftables, sk_buff.dev.name, a masked comparison.
import { Netns, runRetrace } from '@retrace/e2e';
import { readEvents, tempDir } from './helpers.js';

const tmp = tempDir();
let ns: Netns;

beforeAll(() => {
  ns = Netns.create('meta');
  ns.ip('link', 'add', 'mv0', 'type', 'veth', 'peer', 'name', 'mv1');
  ns.ip('addr', 'add', '10.66.0.1/24', 'dev', 'mv0');
  ns.ip('link', 'set', 'mv0', 'up');
  ns.ip('link', 'set', 'mv1', 'up');
  // ICMP leaving the namespace gets mark 0x2a01 (high byte 0x2a)
  ns.nft(
    'table ip rtmeta { chain out { type filter hook output priority 0; policy accept; icmp type echo-request meta mark set 0x2a01; }; }',
  );
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

function collect(meta: string): ReturnType<typeof readEvents> {
  const out = `${tmp.dir}/meta.json`;
  const cmd = `ip netns exec ${ns.name} ping -c 2 -i 0.1 -W 1 10.66.0.2 >/dev/null; ip netns exec ${ns.name} ping -c 1 127.0.0.1 >/dev/null`;
  // (the mark is in skb.meta, which retis, and so retrace, collects only when asked)
  const r = runRetrace([
    'collect',
    '-c',
    'skb,skb-tracking,dev,ns',
    '--skb-sections',
    'meta',
    '-m',
    meta,
    '--cmd',
    cmd,
    '-o',
    out,
  ]);
  expect(r.code).toBe(0);
  return readEvents(out).filter((e) => e.kernel);
}

test('sk_buff.mark == 0x2a01 keeps exactly the marked echo requests', () => {
  const events = collect('sk_buff.mark == 0x2a01');
  expect(events.length).toBeGreaterThanOrEqual(2);
  for (const e of events) expect(e.skb?.meta?.mark).toBe(0x2a01);
});

test('a masked comparison: sk_buff.mark:0xff00 == 0x2a00', () => {
  const events = collect('sk_buff.mark:0xff00 == 0x2a00');
  expect(events.length).toBeGreaterThanOrEqual(2);
  for (const e of events) expect((e.skb?.meta?.mark ?? 0) & 0xff00).toBe(0x2a00);
});

test("sk_buff.dev.name == 'lo' follows the loopback ping only", () => {
  const events = collect("sk_buff.dev.name == 'lo' && sk_buff.dev.nd_net.net.ns.inum == " + ns.inode);
  expect(events.length).toBeGreaterThanOrEqual(4);
  for (const e of events) {
    expect(e.dev?.name).toBe('lo');
    expect(e.netns?.inum).toBe(ns.inode);
  }
});

test('a meta filter naming no field is refused before anything is loaded', () => {
  const r = runRetrace(['collect', '-m', 'sk_buff.devv.name == "x"', '--duration', '1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/has no field 'devv'; did you mean dev/);
});
