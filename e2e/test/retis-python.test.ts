// retis's Python library (PyPI `retis`) reads what retrace writes: a real collection on this
// kernel (packets, drops, devices, namespaces, stacks) written by `collect -o`
// and by `sort -o`, read event by event and series by series, each field compared with
// retrace's own JSON of the same file. Fields retrace writes beyond retis's are listed in
// docs/scripting.md; any other difference fails here, naming the field. The nft and ct sections
// have their own test (retis-python-sections.test.ts).
import { spawnSync } from 'node:child_process';
import { routedLab, runRetrace, startCollect, type RoutedLab } from '@retrace/e2e';
import { formatEvent, type Event } from '@retrace/events';
import { expectNothingLoaded, readEvents, readSeries, tempDir } from './helpers.js';
import {
  DUMP_SCRIPT,
  dumpStandalone,
  compareEvent,
  parseDump,
  requireRetisLibrary,
  retracePython,
  type Comparison,
  type Dumped,
} from './retis-python-lib.js';

/** What retrace writes that retis has no field for (docs/scripting.md lists them). */
const RETRACE_ONLY = new Set<string>(['startup.retrace_version', 'skb.meta.mark']);

let lab: RoutedLab;
const tmp = tempDir();
const out = `${tmp.dir}/events.json`;
const sorted = `${tmp.dir}/sorted.json`;
let events: Event[];
let series: Event[][];

beforeAll(async () => {
  requireRetisLibrary();
  lab = routedLab('rpy', { forwardRules: ['udp dport 9999 counter drop'] });
  const c = startCollect([
    '-c',
    'skb-drop,skb,skb-tracking,dev,ns',
    '--stack',
    '-p',
    'tp:net:netif_receive_skb',
    '-p',
    'tp:net:net_dev_start_xmit',
    '-o',
    out,
  ]);
  await c.ready;
  spawnSync('ip', ['netns', 'exec', lab.client.name, 'ping', '-c', '2', '-i', '0.05', lab.serverIp]);
  // Dropped by the router's rule, then refused by the server (nothing listens), then a TCP reset.
  lab.client.exec([
    'bash',
    '-c',
    `printf a > /dev/udp/${lab.serverIp}/9999; printf b > /dev/udp/${lab.serverIp}/5999; ` +
      `(exec 3<>/dev/tcp/${lab.serverIp}/7999) 2>/dev/null; true`,
  ]);
  await new Promise((r) => setTimeout(r, 300));
  const r = await c.stop('SIGINT');
  expect(r.code).toBe(0);
  events = readEvents(out);
  const s = runRetrace(['sort', out, '-o', sorted]);
  expect(s.code).toBe(0);
  series = readSeries(sorted);
}, 60_000);

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

const fresh = (): Comparison => ({ mismatches: [], retraceOnly: new Set() });

function expectSame(retrace: Event[], retis: Dumped[], c: Comparison, what: string): void {
  expect(retis).toHaveLength(retrace.length);
  retrace.forEach((ev, i) => compareEvent(ev, (retis[i] as Dumped).dict, `${what} event ${i}`, c));
  expect(c.mismatches).toEqual([]);
  expect([...c.retraceOnly].filter((f) => !RETRACE_ONLY.has(f))).toEqual([]);
}

test('the collection has every section this kernel gives', () => {
  const kinds = new Set(events.flatMap((e) => Object.keys(e)));
  for (const k of ['startup', 'common', 'kernel', 'skb-tracking', 'skb-drop', 'packet', 'skb', 'dev', 'netns'])
    expect(kinds).toContain(k);
  expect(events.some((e) => e.kernel?.stack_trace?.length)).toBe(true);
});

test("collect -o output: retrace python's reader (EventFile) reads every event with retrace's values", () => {
  const dumped = parseDump(retracePython(['-i', out, DUMP_SCRIPT])) as Dumped[];
  const c = fresh();
  expectSame(events, dumped, c, 'collect');
  console.log(`retis read ${dumped.length} events; retrace-only fields: ${[...c.retraceOnly].join(', ') || 'none'}`);
});

test("collect -o output: the library's EventReader, standalone, reads the same", () => {
  const dumped = dumpStandalone(out, 'events') as Dumped[];
  expectSame(events, dumped, fresh(), 'collect');
  // The section names it lists are the ones in the file (kebab-case written as snake_case).
  dumped.forEach((d, i) =>
    expect(d.sections).toEqual(
      Object.keys(events[i] as Event)
        .map((k) => k.replace(/-/g, '_'))
        .filter((k) => d.sections.includes(k) || k !== 'startup')
        .sort(),
    ),
  );
});

test("sort -o output: SeriesReader and EventFile read every series, each event with retrace's values", () => {
  const viaShell = parseDump(retracePython(['-i', sorted, DUMP_SCRIPT]));
  const standalone = dumpStandalone(sorted, 'series');
  for (const dumped of [viaShell, standalone]) {
    expect(dumped).toHaveLength(series.length);
    const c = fresh();
    series.forEach((s, i) => {
      const line = dumped[i] as { series: Dumped[]; len: number };
      expect(line.len).toBe(s.length);
      s.forEach((ev, j) => compareEvent(ev, (line.series[j] as Dumped).dict, `series ${i} event ${j}`, c));
    });
    expect(c.mismatches).toEqual([]);
    expect([...c.retraceOnly].filter((f) => !RETRACE_ONLY.has(f))).toEqual([]);
  }
});

test("each event's header line reads the same in retis's text as in retrace's", () => {
  const dumped = parseDump(retracePython(['-i', out, DUMP_SCRIPT])) as Dumped[];
  const differ: string[] = [];
  events.forEach((ev, i) => {
    if (!ev.kernel) return;
    const ours = formatEvent(ev).split('\n')[0];
    const theirs = (dumped[i] as Dumped).text.split('\n')[0];
    if (ours !== theirs) differ.push(`retrace: ${ours}\nretis:   ${theirs}`);
  });
  expect(differ).toEqual([]);
});

test('nothing of retrace stays loaded after collect exits', async () => {
  await expectNothingLoaded();
});
