// retis's Python library on retrace's nft and ct sections: a real collection of each on this
// kernel, read by the library and compared field by field with retrace's JSON. Until those
// sections follow retis's types (docs/scripting.md lists what differs), the library refuses the
// file and these tests say which field.
import { spawnSync } from 'node:child_process';
import { routedLab, startCollect, type RoutedLab } from '@retrace/e2e';
import type { Event } from '@retrace/events';
import { readEvents, tempDir } from './helpers.js';
import { compareEvent, dumpStandalone, requireRetisLibrary, type Comparison, type Dumped } from './retis-python-lib.js';

let lab: RoutedLab;
const tmp = tempDir();
const files = { nft: `${tmp.dir}/nft.json`, ct: `${tmp.dir}/ct.json` };

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
  await collect('nft,skb,skb-tracking', files.nft, ['--allow-system-changes']);
  await collect('ct,skb,skb-tracking', files.ct);
}, 60_000);

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test.each(['nft', 'ct'] as const)("the library reads retrace's %s sections with retrace's values", (section) => {
  const events: Event[] = readEvents(files[section]);
  expect(events.some((e) => e[section])).toBe(true);
  const dumped = dumpStandalone(files[section], 'events') as Dumped[];
  expect(dumped).toHaveLength(events.length);
  const c: Comparison = { mismatches: [], retraceOnly: new Set() };
  events.forEach((ev, i) => compareEvent(ev, (dumped[i] as Dumped).dict, `event ${i}`, c));
  expect(c.mismatches).toEqual([]);
  expect([...c.retraceOnly].filter((f) => f.startsWith(`${section}.`))).toEqual([]);
});
