// retis's Python library on retrace's nft, ct and userspace (USDT) sections: a real collection
// of each on this kernel, read by the library and compared field by field with retrace's JSON,
// and the nft handles (which trace messages lack) checked against what nftables lists.
import { spawnSync } from 'node:child_process';
import { routedLab, runRetrace, startCollect, type RoutedLab } from '@retrace/e2e';
import { bpfArtifactPath } from '@retrace/ebpf-loader';
import type { Event } from '@retrace/events';
import { readEvents, tempDir } from './helpers.js';
import { compareEvent, dumpStandalone, requireRetisLibrary, type Comparison, type Dumped } from './retis-python-lib.js';

/** What retrace writes that retis has no field for (docs/scripting.md lists them). */
const RETRACE_ONLY = new Set<string>(['nft.family']);

let lab: RoutedLab;
const tmp = tempDir();
const files = { nft: `${tmp.dir}/nft.json`, ct: `${tmp.dir}/ct.json`, userspace: `${tmp.dir}/usdt.json` };

async function collect(collectors: string, out: string, extra: string[] = []): Promise<void> {
  const c = startCollect(['-c', collectors, ...extra, '-p', 'tp:net:net_dev_start_xmit', '-o', out]);
  await c.ready;
  spawnSync('ip', ['netns', 'exec', lab.client.name, 'ping', '-c', '2', '-i', '0.05', lab.serverIp]);
  lab.client.exec(['bash', '-c', `printf a > /dev/udp/${lab.serverIp}/9999; printf b > /dev/udp/${lab.serverIp}/5999`]);
  await new Promise((r) => setTimeout(r, 300));
  expect((await c.stop('SIGINT')).code).toBe(0);
}

beforeAll(async () => {
  requireRetisLibrary();
  // Masquerading makes the router track connections: its packets carry a conntrack entry.
  lab = routedLab('rpys', { masquerade: true, forwardRules: ['udp dport 9999 counter drop'] });
  // The lab's table again, after another one: its handle is not the first one the kernel gives.
  const ruleset = lab.router.exec(['nft', 'list', 'table', 'ip', 'rtlab']);
  lab.router.exec(['nft', 'delete', 'table', 'ip', 'rtlab']);
  lab.router.nft('table ip rpys_pad {\n  chain pad {\n  }\n}\n');
  lab.router.nft(ruleset);
  await collect('nft,skb,skb-tracking', files.nft, ['--allow-system-changes']);
  await collect('ct,skb,skb-tracking', files.ct);
  // The other kind of probe this kernel has besides tracepoints: USDT (uprobes).
  const target = bpfArtifactPath('tests/usdt_target');
  const u = runRetrace([
    'collect',
    '-p',
    `usdt:${target}:retrace_test:hit`,
    '--cmd',
    `${target} 3`,
    '-o',
    files.userspace,
  ]);
  expect(u.code).toBe(0);
}, 60_000);

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test.each(['nft', 'ct', 'userspace'] as const)(
  "the library reads retrace's %s sections with retrace's values",
  (section) => {
    const events: Event[] = readEvents(files[section]);
    expect(events.some((e) => e[section])).toBe(true);
    const dumped = dumpStandalone(files[section], 'events') as Dumped[];
    expect(dumped).toHaveLength(events.length);
    const c: Comparison = { mismatches: [], retraceOnly: new Set() };
    events.forEach((ev, i) => compareEvent(ev, (dumped[i] as Dumped).dict, `event ${i}`, c));
    expect(c.mismatches).toEqual([]);
    expect([...c.retraceOnly].filter((f) => f.startsWith(`${section}.`) && !RETRACE_ONLY.has(f))).toEqual([]);
  },
);

/** `family|table` and `family|table|chain` -> handle, as `nft -j` lists them in the router. */
function routerHandles(): Map<string, string> {
  const out = new Map<string, string>();
  const list = (what: string): { table?: Record<string, unknown>; chain?: Record<string, unknown> }[] =>
    (JSON.parse(lab.router.exec(['nft', '-j', 'list', what])) as { nftables: [] }).nftables;
  for (const { table: t } of list('tables')) if (t) out.set(`${t.family}|${t.name}`, String(t.handle));
  for (const { chain: c } of list('chains')) if (c) out.set(`${c.family}|${c.table}|${c.name}`, String(c.handle));
  return out;
}

test("nft verdicts carry the table's and chain's handles as nftables lists them, in retis's text too", () => {
  const handles = routerHandles();
  expect(handles.get('ip|rtlab')).not.toBe('1');
  const verdicts = readEvents(files.nft).filter((e) => e.nft?.table_name === 'rtlab');
  expect(verdicts.map((e) => e.nft?.chain_name)).toContain('forward_filter');
  const dumped = dumpStandalone(files.nft, 'events') as Dumped[];
  const texts = dumped.map((d) => d.text);
  for (const e of verdicts) {
    const n = e.nft as NonNullable<Event['nft']>;
    const table = handles.get(`${n.family}|${n.table_name}`);
    const chain = handles.get(`${n.family}|${n.table_name}|${n.chain_name}`);
    expect([String(n.table_handle), String(n.chain_handle)]).toEqual([table, chain]);
    expect(texts.some((t) => t.includes(`table rtlab (${table}) chain ${n.chain_name} (${chain})`))).toBe(true);
  }
});
