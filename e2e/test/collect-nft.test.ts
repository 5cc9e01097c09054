// The nft collector on a kernel without kprobes: nftables' own trace messages, from every
// namespace, attached to the packet's series. A forward rule on the router drops one UDP flow
// while others pass, interleaved; each drop must land in its own packet's series, with table,
// chain, rule handle and verdict, right before the skb-drop event it caused.
import { spawnSync } from 'node:child_process';
import { routedLab, runRetrace, startCollect, type Netns, type RoutedLab } from '@retrace/e2e';
import type { Event } from '@retrace/events';
import { expectNothingLoaded, hop, readSeries, tempDir } from './helpers.js';

let lab: RoutedLab;
let series: Event[][];
let stderr = '';
let dropHandle: number;
let tableHandle: number;
let chainHandle: number;
const tmp = tempDir();
const ROUNDS = 6;

function tables(ns: Netns | undefined): string {
  const argv = ns ? ['ip', 'netns', 'exec', ns.name, 'nft', 'list', 'tables'] : ['nft', 'list', 'tables'];
  const [cmd, ...args] = argv as [string, ...string[]];
  return spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
}

function allTables(): string {
  return [undefined, lab.client, lab.router, lab.server].map(tables).join('\n');
}

/** The series whose first packet left the client for this UDP port. */
function seriesTo(dport: number): Event[][] {
  return series.filter((s) => {
    const first = s.map(hop).find((h) => h);
    return first?.proto === 'udp' && first.dport === dport && first.netns === lab.client.inode;
  });
}

beforeAll(async () => {
  lab = routedLab('nft', { forwardRules: ['udp dport 9999 counter drop'] });
  const listing = lab.router.exec(['nft', '-a', 'list', 'chain', 'ip', 'rtlab', 'forward_filter']);
  dropHandle = Number(/udp dport 9999 counter packets \d+ bytes \d+ drop # handle (\d+)/.exec(listing)?.[1]);
  const objects = (
    what: string,
  ): { table?: { name: string; handle: number }; chain?: { name: string; handle: number } }[] =>
    (JSON.parse(lab.router.exec(['nft', '-j', 'list', what])) as { nftables: [] }).nftables;
  tableHandle = objects('tables').find((o) => o.table?.name === 'rtlab')?.table?.handle ?? -1;
  chainHandle = objects('chains').find((o) => o.chain?.name === 'forward_filter')?.chain?.handle ?? -1;
  const out = `${tmp.dir}/events.json`;
  const c = startCollect([
    '-c',
    'nft,skb-drop,skb,skb-tracking,dev,ns',
    '--allow-system-changes',
    '-p',
    'tp:net:netif_receive_skb',
    '-p',
    'tp:net:net_dev_start_xmit',
    '-o',
    out,
  ]);
  await c.ready;
  // Interleaved flows: dropped and passing datagrams alternate, with pings in between.
  const script = Array.from(
    { length: ROUNDS },
    (_, i) =>
      `printf drop${i} > /dev/udp/${lab.serverIp}/9999; printf pass${i} > /dev/udp/${lab.serverIp}/5353; ` +
      `printf more${i} > /dev/udp/${lab.serverIp}/9999;`,
  ).join(' ');
  const ping = spawnSync('ip', ['netns', 'exec', lab.client.name, 'ping', '-c', '3', '-i', '0.01', lab.serverIp]);
  lab.client.exec(['bash', '-c', script]);
  expect(ping.status).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  // While it runs, retrace's table sets nftrace in every namespace.
  expect(tables(lab.router)).toMatch(/table inet retrace_nftrace_\d+/);
  const r = await c.stop('SIGINT');
  stderr = r.stderr;
  expect(r.code).toBe(0);
  const sorted = runRetrace(['sort', out, '-o', `${tmp.dir}/sorted.json`]);
  expect(sorted.code).toBe(0);
  series = readSeries(`${tmp.dir}/sorted.json`);
});

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test('each dropped datagram has the dropping rule inside its own series, right before the drop', () => {
  expect(dropHandle).toBeGreaterThan(0);
  const dropped = seriesTo(9999);
  expect(dropped.length).toBe(2 * ROUNDS);
  for (const s of dropped) {
    const verdicts = s.filter((e) => e.nft);
    expect(verdicts.map((e) => e.nft)).toEqual([
      {
        table_name: 'rtlab',
        chain_name: 'forward_filter',
        verdict: 'drop',
        // Trace messages carry no table or chain handle: looked up as nft lists them.
        table_handle: BigInt(tableHandle),
        chain_handle: BigInt(chainHandle),
        rule_handle: BigInt(dropHandle),
        policy: false,
        family: 'ip',
      },
    ]);
    const v = verdicts[0] as Event;
    expect(v.netns?.inum).toBe(lab.router.inode);
    const i = s.indexOf(v);
    expect(s[i + 1]?.['skb-drop']?.drop_reason).toBe('NETFILTER_DROP');
    expect(s[i + 1]?.netns?.inum).toBe(lab.router.inode);
  }
});

test('datagrams that pass carry the accepting chain policy, never a drop', () => {
  const passed = seriesTo(5353);
  expect(passed.length).toBe(ROUNDS);
  for (const s of passed) {
    const verdicts = s.filter((e) => e.nft).map((e) => e.nft);
    expect(verdicts).toContainEqual(
      expect.objectContaining({ table_name: 'rtlab', chain_name: 'forward_filter', verdict: 'accept', policy: true }),
    );
    expect(verdicts.some((n) => n?.verdict === 'drop')).toBe(false);
    // It reached the server.
    expect(s.map(hop).some((h) => h?.netns === lab.server.inode)).toBe(true);
  }
});

test('the text shows the verdict as retis does, the family last', () => {
  const printed = runRetrace(['print', `${tmp.dir}/sorted.json`]);
  expect(printed.stdout).toContain(
    `table rtlab (${tableHandle}) chain forward_filter (${chainHandle}) handle ${dropHandle} drop family ip`,
  );
  expect(stderr).toMatch(/nft: \d+ verdict\(s\) matched to followed packets/);
});

test('retrace removes its nftrace tables when it stops', () => {
  expect(allTables()).not.toMatch(/retrace_nftrace_/);
});

test('without --allow-system-changes it says exactly what rule tracing needs', () => {
  const r = runRetrace(['collect', '-c', 'nft', '--duration', '0.2', '-o', `${tmp.dir}/none.json`]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('meta nftrace set 1');
  expect(r.stderr).toContain('--allow-system-changes');
  expect(allTables()).not.toMatch(/retrace_nftrace_/);
});

test('a table left by a retrace that crashed is removed at the next start', () => {
  const dead = spawnSync('true').pid as number;
  lab.router.nft(
    `table inet retrace_nftrace_${dead} {\n chain prerouting { type filter hook prerouting priority -350; meta nftrace set 1; }\n}\n`,
  );
  const r = runRetrace([
    'collect',
    '-c',
    'nft',
    '--allow-system-changes',
    '--duration',
    '0.2',
    '-o',
    `${tmp.dir}/stale.json`,
  ]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`removed retrace_nftrace_${dead}`);
  expect(allTables()).not.toMatch(/retrace_nftrace_/);
});

test('SIGTERM removes the tables too', async () => {
  const c = startCollect(['-c', 'nft', '--allow-system-changes', '-o', `${tmp.dir}/term.json`]);
  await c.ready;
  expect(tables(lab.server)).toMatch(/retrace_nftrace_/);
  const r = await c.stop('SIGTERM');
  expect(r.code).toBe(0);
  expect(allTables()).not.toMatch(/retrace_nftrace_/);
});

test("retis's nft-dropmon profile runs without kprobes and reports the drop", () => {
  const out = `${tmp.dir}/dropmon.json`;
  const r = runRetrace([
    '-P',
    'e2e/fixtures/retis-profiles',
    '-p',
    'nft-dropmon',
    'collect',
    '--allow-system-changes',
    '-o',
    out,
    '--cmd',
    `ip netns exec ${lab.client.name} bash -c 'printf x > /dev/udp/${lab.serverIp}/9999'; sleep 0.3`,
  ]);
  expect(r.code).toBe(0);
  const drops = readSeries(out)
    .flat()
    .filter((e) => e.nft);
  // --nft-verdicts drop from the profile: only drops.
  expect(drops.length).toBeGreaterThan(0);
  expect(drops.every((e) => e.nft?.verdict === 'drop')).toBe(true);
  expect(drops[0]?.nft).toMatchObject({ table_name: 'rtlab', chain_name: 'forward_filter' });
});

test('bad --nft-verdicts values are refused with the known list', () => {
  const r = runRetrace(['collect', '-c', 'nft', '--nft-verdicts', 'drop,maybe', '--duration', '0.1']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('unknown --nft-verdicts maybe; known: all, continue, break, jump, goto, return, drop');
});

test('nothing of retrace stays loaded after collect exits', async () => {
  await expectNothingLoaded();
});
