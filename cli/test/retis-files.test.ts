// retis's file habits in retrace: the default file (retis.data), rotated sets read as one input
// by every reader, pcap on standard output without -o, and a pcap -p that matches nothing fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { retraceBin, runRetrace, type RunResult } from '@retrace/e2e';
import { readCapture, stringifyEvent, type Event } from '@retrace/events';
import { fixture, tempDir } from './helpers/files.js';

const tmp = tempDir('rt-retis-');
afterAll(() => tmp.remove());

/** retrace run in `cwd` (where the default file is looked for). */
function runIn(cwd: string, args: string[]): RunResult {
  const r = spawnSync(process.execPath, [retraceBin(), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An Ethernet/IPv4/UDP frame. */
function frame(): Buffer {
  const b = Buffer.alloc(42);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(28, 16);
  b[22] = 64;
  b[23] = 17;
  b.set([10, 0, 0, 1], 26);
  b.set([10, 0, 0, 2], 30);
  b.writeUInt16BE(1234, 34);
  b.writeUInt16BE(53, 36);
  b.writeUInt16BE(8, 38);
  return b;
}

const startup = (id?: number): Event => ({
  common: { timestamp: 100n },
  startup: {
    retis_version: 'v1.7.0',
    retrace_version: '0.1.0',
    cmdline: 'retrace collect -o x.data --out-rotate 1MB',
    clock_monotonic_offset: { sec: 1742309146n, nsec: 0n },
    ...(id === undefined ? {} : { split_file: { id, policy: { kind: 'size', limit: 1000000n } } }),
  },
});
const packetEvent = (ts: bigint, symbol = 'net:netif_receive_skb'): Event => {
  const data = frame();
  return {
    common: { timestamp: ts },
    kernel: { symbol, probe_type: 'raw_tracepoint', stack_trace: [] },
    packet: { len: data.length, capture_len: data.length, data: data.toString('base64') },
  };
};
const write = (path: string, evs: Event[]): void =>
  writeFileSync(path, evs.map((e) => `${stringifyEvent(e)}\n`).join(''));

test('pcap without -o writes pcap-ng to standard output, as retis', () => {
  const f = join(tmp.dir, 'p.data');
  write(f, [startup(), packetEvent(200n), packetEvent(300n)]);
  const r = spawnSync(process.execPath, [retraceBin(), 'pcap', f]);
  expect(r.status).toBe(0);
  expect(readCapture(r.stdout).map((p) => p.len)).toEqual([42, 42]);
  expect(r.stderr.toString()).toContain('2 packet(s) from 1 probe(s) written to standard output');
});

test('pcap refuses to write binary to a terminal', () => {
  const f = join(tmp.dir, 't.data');
  write(f, [startup(), packetEvent(200n)]);
  // script(1) runs the command on a pseudo-terminal.
  const r = spawnSync('script', ['-qec', `"${process.execPath}" "${retraceBin()}" pcap "${f}"`, '/dev/null'], {
    encoding: 'utf8',
  });
  expect(r.status).toBe(2);
  expect(r.stdout).toContain('standard output, which is a terminal: redirect it');
});

test('pcap -p naming a probe no event comes from fails, naming it, and writes nothing', () => {
  const f = join(tmp.dir, 'q.data');
  write(f, [startup(), packetEvent(200n)]);
  const out = join(tmp.dir, 'q.pcapng');
  const r = runRetrace(['pcap', f, '-p', 'tp:skb:kfree_skb', '-o', out]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`probe tp:skb:kfree_skb not found in the events of ${f}`);
  expect(existsSync(out)).toBe(false);
  // An existing output is left as it was.
  writeFileSync(out, 'keep');
  expect(runRetrace(['pcap', f, '-p', 'kprobe:net:netif_receive_skb', '-o', out]).code).toBe(1);
  expect(readFileSync(out, 'utf8')).toBe('keep');
  expect(runRetrace(['pcap', f, '-p', 'tp:net:netif_receive_skb', '-o', out]).code).toBe(0);
  expect(readCapture(readFileSync(out))).toHaveLength(1);
});

test('without a file, readers take retis.data, else retis.data.0.., else retrace.data', () => {
  const cwd = join(tmp.dir, 'defaults');
  mkdirSync(cwd);
  const none = runIn(cwd, ['print']);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('none of retis.data, retis.data.0, retrace.data, retrace.data.0 is here');
  write(join(cwd, 'retrace.data'), [startup(), packetEvent(1n, 'old:retrace')]);
  expect(runIn(cwd, ['stats']).stdout).toContain('raw_tracepoint/old:retrace: 1');
  write(join(cwd, 'retis.data.0'), [startup(0), packetEvent(2n, 'set:zero')]);
  write(join(cwd, 'retis.data.1'), [startup(1), packetEvent(3n, 'set:one')]);
  const set = runIn(cwd, ['stats']).stdout;
  expect(set).toContain('Split index: 0');
  expect(set).toContain('Split index: 1');
  expect(set).toContain('raw_tracepoint/set:one: 1');
  write(join(cwd, 'retis.data'), [startup(), packetEvent(4n, 'plain:retis')]);
  expect(runIn(cwd, ['stats']).stdout).toContain('raw_tracepoint/plain:retis: 1');
  expect(runIn(cwd, ['print']).stdout).toContain('plain:retis');
});

test('a rotated set FILE.0.. reads as one input in print, sort, stats and pcap; FILE.0 alone is one file', () => {
  const base = join(tmp.dir, 'x.data');
  write(`${base}.0`, [startup(0), packetEvent(200n)]);
  write(`${base}.1`, [startup(1), packetEvent(300n)]);
  write(`${base}.2`, [startup(2), packetEvent(400n)]);
  const print = runRetrace(['print', `${base}.0..`, '--format', 'single-line']);
  expect(print.code).toBe(0);
  expect(print.stdout.match(/^\d+ .*netif_receive_skb/gm)).toHaveLength(3);
  expect(print.stdout).toContain('file id 2');
  expect(runRetrace(['print', `${base}.0`, '--format', 'single-line']).stdout.match(/netif_receive_skb/g)).toHaveLength(
    1,
  );
  const stats = runRetrace(['stats', `${base}.1..`]).stdout;
  expect(stats).toContain('\nSplit index: 1\nNumber of events: 1');
  expect(stats).toContain('\nSplit index: 2\nNumber of events: 1');
  expect(stats).not.toContain('Split index: 0');
  const sorted = join(tmp.dir, 'x.sorted');
  expect(runRetrace(['sort', `${base}.0..`, '-o', sorted]).code).toBe(0);
  expect(readFileSync(sorted, 'utf8').match(/netif_receive_skb/g)).toHaveLength(3);
  const r = spawnSync(process.execPath, [retraceBin(), 'pcap', `${base}.0..`]);
  expect(readCapture(r.stdout)).toHaveLength(3);
  // The plain name of a finished set is gone: the message points at the set.
  const gone = runRetrace(['print', base]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toContain(`read the whole set with ${base}.0..`);
});

test('no output may be any file of the rotated set read', () => {
  const base = join(tmp.dir, 'y.data');
  write(`${base}.0`, [startup(0), packetEvent(200n)]);
  write(`${base}.1`, [startup(1), packetEvent(300n)]);
  const before = readFileSync(`${base}.1`);
  for (const args of [
    ['sort', `${base}.0..`, '-o', `${base}.1`],
    ['pcap', `${base}.0..`, '-o', `${base}.1`],
  ]) {
    const r = runRetrace(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `-o ${base}.1 is the same file as the events file (file 2 of the rotated set ${base}.0..)`,
    );
    expect(readFileSync(`${base}.1`)).toEqual(before);
  }
});

test('collect --out-rotate: retis sizes only, needs -o, and never writes over an earlier set', () => {
  const bad = runRetrace(['collect', '-o', join(tmp.dir, 'c.data'), '--out-rotate', '10KB']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--out-rotate takes a size in MB or GB, e.g. 100MB or 2GB, got '10KB'");
  const noOut = runRetrace(['collect', '--out-rotate', '10MB']);
  expect(noOut.code).toBe(2);
  expect(noOut.stderr).toContain('--out-rotate needs -o/--out FILE');
  const base = join(tmp.dir, 'c.data');
  writeFileSync(`${base}.0`, 'an earlier run\n');
  const r = runRetrace(['collect', '-o', base, '--out-rotate', '10MB']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${base}.0 already there`);
  expect(readFileSync(`${base}.0`, 'utf8')).toBe('an earlier run\n');
  expect(existsSync(base)).toBe(false);
});

test('stats of retis own file prints retis labels', () => {
  const r = runRetrace(['stats', fixture('test_events.jsonl')]);
  expect(r.stdout.split('\n').slice(0, 5)).toEqual([
    'Retis version: v1.6.0',
    'Retis cmdline: ',
    'Number of events: 4',
    'First event at: 2025-03-18 21:23:35.334427',
    'Last event at: 2025-03-18 21:23:35.646491',
  ]);
});
