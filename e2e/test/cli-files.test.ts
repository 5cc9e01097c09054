// retrace print / sort / stats / schema on retis's own files and on ours; --stack, -e, --utc.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Netns, retraceBin, runRetrace } from '@retrace/e2e';
import { readEvents, readSeries, tempDir } from './helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'events', 'test', 'fixtures');
const retisEvents = join(fixtures, 'test_events.jsonl');
const retisSorted = join(fixtures, 'test_events_sorted.jsonl');
const tmp = tempDir();
let ns: Netns;

beforeAll(() => {
  ns = Netns.create('files');
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

/** What identifies a series: per event its timestamp, symbol, tracking idx and id. */
function shape(series: ReturnType<typeof readSeries>): string[][] {
  return series.map((s) =>
    s.map(
      (e) =>
        `${e.common?.timestamp} ${e.kernel?.symbol ?? e.userspace?.symbol ?? (e.startup ? 'startup' : '')} ${e.tracking?.idx ?? '-'} ${e.tracking?.skb?.orig_head ?? '-'}`,
    ),
  );
}

test("retrace sort on retis's test_events gives retis's sorted series", () => {
  const out = `${tmp.dir}/sorted.json`;
  const r = runRetrace(['sort', retisEvents, '-o', out]);
  expect(r.code).toBe(0);
  const ours = shape(readSeries(out));
  const theirs = shape(readSeries(retisSorted));
  expect(ours).toEqual(theirs);
  expect(ours.length).toBeGreaterThan(1);
});

test("retrace print and sort read retis's files and show every probe", () => {
  const p = runRetrace(['print', retisEvents]);
  expect(p.code).toBe(0);
  for (const sym of ['tcp_v4_rcv', 'openvswitch:ovs_dp_upcall', 'skb:kfree_skb']) expect(p.stdout).toContain(sym);
  expect(p.stdout).toMatch(/drop \(reason NO_SOCKET\)/);
  const s = runRetrace(['sort', retisEvents]);
  expect(s.code).toBe(0);
  expect(s.stdout).toMatch(/↳ .*ovs_dp_upcall/);
  expect(runRetrace(['print', retisSorted]).code).toBe(0);
});

test('- reads standard input; a missing file and a truncated line are named', () => {
  const text = readFileSync(retisEvents, 'utf8');
  expect(runRetrace(['print', '-'], text).stdout).toContain('tcp_v4_rcv');
  const missing = runRetrace(['print', '/nonexistent/events.json']);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('/nonexistent/events.json');
  const lines = text.split('\n');
  const broken = [lines[0], lines[1], (lines[2] ?? '').slice(0, 40)].join('\n');
  const r = runRetrace(['print', '-'], broken);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/line 3/);
  expect(r.stdout).toContain('tcp_v4_rcv'); // what came before was printed
});

test('stats summarises a file; schema describes every section', () => {
  const st = runRetrace(['stats', retisEvents]);
  expect(st.code).toBe(0);
  expect(st.stdout).toMatch(/tcp_v4_rcv/);
  const schema = JSON.parse(runRetrace(['schema']).stdout) as {
    $defs?: Record<string, unknown>;
    properties?: Record<string, unknown>;
  };
  for (const section of [
    'common',
    'kernel',
    'skb-tracking',
    'skb-drop',
    'packet',
    'skb',
    'dev',
    'netns',
    'startup',
    'lost',
  ])
    expect(Object.keys(schema.properties ?? {})).toContain(section);
});

test('--stack adds symbolized kernel stacks; -e shows the link layer; --utc prints wall-clock time', () => {
  const out = `${tmp.dir}/stack.json`;
  const r = runRetrace([
    'collect',
    '-c',
    'skb,skb-tracking,dev,ns',
    '-p',
    'tp:net:netif_receive_skb/stack',
    '--cmd',
    `ip netns exec ${ns.name} ping -c 1 127.0.0.1 >/dev/null`,
    '-o',
    out,
  ]);
  expect(r.code).toBe(0);
  const ev = readEvents(out).find((e) => e.netns?.inum === ns.inode);
  expect(ev?.kernel?.stack_trace?.length).toBeGreaterThan(2);
  expect(ev?.kernel?.stack_trace?.join(' ')).toMatch(/netif_receive_skb|process_backlog|__netif_receive_skb/);
  expect(ev?.kernel?.stack_trace?.[0]).toMatch(/^[\w.]+\+0x[0-9a-f]+$/);
  const printed = runRetrace(['print', out, '-e', '--utc']);
  // retis's UTC form: date, time, microseconds
  expect(printed.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /m);
  expect(printed.stdout).toMatch(/00:00:00:00:00:00 > 00:00:00:00:00:00/);
});

test("--skb-sections adds to the packet, as retis: none by default, retis's old values accepted", () => {
  const out = `${tmp.dir}/sections.json`;
  const cmd = `ip netns exec ${ns.name} ping -c 1 127.0.0.1 >/dev/null`;
  expect(runRetrace(['collect', '-c', 'skb,ns', '--cmd', cmd, '-o', out]).code).toBe(0);
  const plain = readEvents(out).find((e) => e.netns?.inum === ns.inode);
  expect(plain?.packet?.capture_len).toBeGreaterThan(0);
  expect(plain?.skb?.meta).toBeUndefined();
  expect(plain?.skb?.data_ref).toBeUndefined();
  expect(runRetrace(['collect', '-c', 'skb,ns', '--skb-sections', 'meta', '--cmd', cmd, '-o', out]).code).toBe(0);
  const ev = readEvents(out).find((e) => e.netns?.inum === ns.inode);
  expect(ev?.skb?.meta?.len).toBeGreaterThan(0);
  expect(ev?.skb?.data_ref).toBeUndefined();
  expect(ev?.packet?.capture_len).toBeGreaterThan(0);
  const old = runRetrace(['collect', '-c', 'skb,ns', '--skb-sections', 'eth,tcp,dev', '--cmd', cmd, '-o', out]);
  expect(old.code).toBe(0);
  expect(old.stderr).toMatch(/warning: use of 'tcp' in --skb-sections is deprecated/);
  expect(old.stderr).toMatch(/warning: use of 'dev' in --skb-sections is deprecated/);
  expect(old.stderr).not.toMatch(/'eth'/);
  const ev2 = readEvents(out).find((e) => e.netns?.inum === ns.inode);
  expect(ev2?.packet?.capture_len).toBeGreaterThan(0);
  expect(ev2?.skb?.meta).toBeUndefined();
  expect(runRetrace(['collect', '--skb-sections', 'ethernet', '--duration', '1']).stderr).toMatch(
    /unknown --skb-sections ethernet; known: all, meta, dataref, gso \(deprecated, accepted: eth, packet/,
  );
});

test('on a terminal, collect shows a live status line: events, rate, lost, probes attached', () => {
  // script(1) gives the command a pseudo-terminal.
  const r = spawnSync(
    'script',
    ['-qec', `${process.execPath} ${retraceBin()} collect -c skb --duration 2.3 -o ${tmp.dir}/tty.json`, '/dev/null'],
    { encoding: 'utf8' },
  );
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/\d+ events \(\d+\/s\), \d+ lost, 2 probes attached/);
});

test('npx retrace works from the repository root, as the README says', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const r = spawnSync('npx', ['retrace', '--version'], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('0.1.0');
});
