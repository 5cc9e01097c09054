// retrace pcap: events with packet bytes become a pcap-ng capture tshark reads, one interface
// per probe, each packet carrying its event's text as a comment.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, retraceBin, runRetrace } from '@retrace/e2e';
import { parsePacketBase64 } from '@retrace/events';
import { readEvents, tempDir } from './helpers.js';

const tmp = tempDir();
let ns: Netns;
let events: ReturnType<typeof readEvents>;
const eventsFile = () => `${tmp.dir}/events.json`;

function tshark(file: string, fields: string[], filter = 'frame.number > 1'): string[][] {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'));
}

beforeAll(() => {
  ns = Netns.create('pcap');
  const cmd = `ip netns exec ${ns.name} ping -c 2 -i 0.1 127.0.0.1 >/dev/null; ip netns exec ${ns.name} bash -c 'echo hi > /dev/udp/127.0.0.1/5353'`;
  const r = runRetrace([
    'collect',
    '-c',
    'skb,skb-tracking,dev,ns',
    '-m',
    `sk_buff.dev.nd_net.net.ns.inum == ${ns.inode}`,
    '--cmd',
    cmd,
    '-o',
    eventsFile(),
  ]);
  expect(r.code).toBe(0);
  events = readEvents(eventsFile()).filter((e) => e.packet);
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

test('every event with packet bytes is a frame; addresses, ports, interfaces and comments match the events', () => {
  const out = `${tmp.dir}/all.pcapng`;
  const r = runRetrace(['pcap', eventsFile(), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(new RegExp(`${events.length} packet\\(s\\) from 2 probe\\(s\\)`));
  const rows = tshark(out, ['frame.interface_name', 'ip.src', 'ip.dst', 'udp.dstport', 'icmp.type', 'frame.comment']);
  expect(rows).toHaveLength(events.length);
  rows.forEach((row, i) => {
    const ev = events[i];
    const p = parsePacketBase64(ev?.packet?.data ?? '');
    const [iface, src, dst, dport, icmpType, comment] = row;
    expect(iface).toBe(`${ev?.kernel?.probe_type}/${ev?.kernel?.symbol}`);
    expect(src?.split(',')[0]).toBe(p.ip?.src); // ICMP errors quote an inner header: the outer one first
    expect(dst?.split(',')[0]).toBe(p.ip?.dst);
    if (p.l4?.proto === 'udp') expect(Number((dport ?? '').split(',')[0])).toBe(p.l4.dport);
    if (p.l4?.proto === 'icmp') expect(Number((icmpType ?? '').split(',')[0])).toBe(p.l4.type);
    expect(comment).toContain(`[tp] ${ev?.kernel?.symbol}`);
  });
  expect(rows.some((r) => r[3]?.startsWith('5353'))).toBe(true);
  // the event's JSON rides in a custom option (PEN 70000), packet removed
  const raw = readFileSync(out);
  expect(raw.includes(Buffer.from('{"common":{"timestamp":'))).toBe(true);
});

test('-p keeps one probe; a capture from retis fixture events opens in tshark', () => {
  const out = `${tmp.dir}/one.pcapng`;
  expect(runRetrace(['pcap', eventsFile(), '-p', 'tp:net:netif_receive_skb', '-o', out]).code).toBe(0);
  const ifaces = new Set(tshark(out, ['frame.interface_name']).map((r) => r[0]));
  expect([...ifaces]).toEqual(['raw_tracepoint/net:netif_receive_skb']);
  const fixture = join(
    dirname(fileURLToPath(import.meta.url)),
    '..',
    '..',
    'packages',
    'events',
    'test',
    'fixtures',
    'test_events.jsonl',
  );
  const retis = `${tmp.dir}/retis.pcapng`;
  const r = runRetrace(['pcap', fixture, '-o', retis]);
  expect(r.code).toBe(0);
  // retis 1.5 events: headers field by field in skb, their bytes rebuilt (legacy-packet.ts)
  expect(r.stderr).toMatch(/^4 packet\(s\) from \d+ probe\(s\)/);
  const read = spawnSync('tshark', ['-r', retis, '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst'], { encoding: 'utf8' });
  expect(read.status).toBe(0);
  expect(read.stdout.trim().split('\n')).toHaveLength(4);
  expect(read.stdout).toContain('172.200.0.2\t172.200.0.3'); // the fixture's skb.ip saddr/daddr
  // Without -o, as retis: pcap-ng on standard output, the same packets tshark reads from a file
  // (frame 1 is the file's own, as tshark() skips it).
  const piped = spawnSync(
    'sh',
    [
      '-c',
      `node "$0" pcap "$1" | tshark -r - -Y 'frame.number > 1' -T fields -e frame.number`,
      retraceBin(),
      eventsFile(),
    ],
    {
      encoding: 'utf8',
    },
  );
  expect(piped.status).toBe(0);
  expect(piped.stdout.trim().split('\n')).toHaveLength(events.length);
  // A probe that no event comes from is an error naming it (retis fails too).
  const none = runRetrace(['pcap', eventsFile(), '-p', 'tp:skb:kfree_skb', '-o', `${tmp.dir}/none.pcapng`]);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('probe tp:skb:kfree_skb not found');
});
