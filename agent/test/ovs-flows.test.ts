// The ovs collector's flow attribution, without a datapath: flow_lookup and action records as
// retis writes them, the tap that hands looked-up flows to the enricher, the enricher's rate,
// cache and retries, and ovs-vswitchd's control protocol against a socket speaking it.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FlowEnricher,
  OvsDecoder,
  RecordDecoder,
  Unixctl,
  UnixctlError,
  formatUfid,
  jsonObjectEnd,
  loadLayouts,
  lookupTap,
  partPlace,
  partSection,
  vswitchdControlPath,
} from '@retrace/agent';
import type { OvsDetrace } from '@retrace/events';

const layouts = loadLayouts();
const part = partPlace(layouts, 'ovs');
const NAMES: Record<number, string> = { 1: 'output', 7: 'recirc', 12: 'ct', 24: 'drop', 26: 'set_to_masked' };
const decoder = new OvsDecoder(layouts.struct('retrace_ovs'), (n) => NAMES[n] ?? `action_${n}`);
const records = new RecordDecoder(
  layouts,
  [{ symbol: 'ovs_flow_tbl_lookup_stats', probeType: 'kretprobe' }],
  [partSection('ovs', layouts, 'ovs', (view, buf, at) => decoder.decode(view, buf, at))],
);

/** A record with an ovs part, fields set by name. */
function ovsRecord(fields: Record<string, number | bigint | Buffer>): Buffer {
  const b = Buffer.alloc(layouts.event.size + layouts.parts.size);
  b.writeUInt8(1, layouts.event.fields['version']?.offset ?? 0);
  b.writeUInt32LE(part.bit >>> 0, layouts.event.fields['present']?.offset ?? 0);
  const f = layouts.struct('retrace_ovs').fields;
  for (const [name, v] of Object.entries(fields)) {
    const at = part.offset + (f[name]?.offset ?? NaN);
    const size = f[name]?.size ?? 0;
    if (Buffer.isBuffer(v)) v.copy(b, at);
    else if (size === 8) b.writeBigUInt64LE(BigInt(v), at);
    else if (size === 4) b.writeUInt32LE(Number(v), at);
    else if (size === 2) b.writeUInt16LE(Number(v), at);
    else b.writeUInt8(Number(v), at);
  }
  return b;
}
const decode = (b: Buffer) => records.decode(new DataView(b.buffer, b.byteOffset, b.length), b, 0, b.length).ovs;

const UFID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const WORDS = [0x33221100, 0x77665544, 0xbbaa9988, 0xffeeddcc];
const F = { PORT: 2, UFID: 4, ACT_ARG: 32, CT: 64 };

test('flow_lookup: the flow, its actions, its ufid as four words, the mask and cache hits', () => {
  const ev = decode(
    ovsRecord({
      type: 8,
      flags: F.UFID,
      flow: 0xffff8881deadbe00n,
      sf_acts: 0xffff8881cafe0000n,
      ufid: UFID,
      n_mask_hit: 2,
      n_cache_hit: 1,
    }),
  );
  expect(ev).toEqual({
    event_type: 'flow_lookup',
    flow: 0xffff8881deadbe00n,
    sf_acts: 0xffff8881cafe0000n,
    ufid: WORDS,
    n_mask_hit: 2,
    n_cache_hit: 1,
  });
  // As OVS prints it: what `ovs-appctl dpctl/dump-flows -m` lists after `ufid:`.
  expect(formatUfid(WORDS)).toBe('33221100-7766-5544-bbaa-9988ffeeddcc');
});

test('actions in retis layout: recirc id, drop reason, output port, set_to_masked as set_masked', () => {
  expect(decode(ovsRecord({ type: 4, action: 7, flags: F.ACT_ARG, act_arg: 0x2a, recirc_id: 0 }))).toMatchObject({
    action: 'recirc',
    id: 0x2a,
    recirc_id: 0,
  });
  expect(decode(ovsRecord({ type: 4, action: 24, flags: F.ACT_ARG, act_arg: 3, recirc_id: 32 }))).toMatchObject({
    action: 'drop',
    reason: 3,
    recirc_id: 32,
  });
  expect(decode(ovsRecord({ type: 4, action: 1, flags: F.PORT, port: 2 }))).toMatchObject({
    action: 'output',
    port: 2,
  });
  const masked = decode(ovsRecord({ type: 4, action: 26 }));
  expect(masked?.action).toBe('set_masked');
  expect(masked).not.toHaveProperty('id');
});

test('ct action: flags as retis defines them, zone, and the NAT range (IPv4 and IPv6)', () => {
  // commit | ip4 | nat | nat dst | map ips | proto specified: 1+4+16+64+128+256 = 469 (as the
  // kernel side sets them; a nat object only with the nat bit, as retis reads its own records)
  const v4 = decode(
    ovsRecord({
      type: 4,
      action: 12,
      flags: F.CT,
      ct_flags: 469,
      zone_id: 20,
      min_addr: Buffer.from([10, 244, 1, 3]),
      max_addr: Buffer.from([10, 244, 1, 30]),
      min_port: 36895,
      max_port: 36900,
      recirc_id: 34,
    }),
  );
  expect(v4).toEqual({
    event_type: 'action_execute',
    action: 'ct',
    flags: 469,
    zone_id: 20,
    nat: { dir: 'dst', min_addr: '10.244.1.3', max_addr: '10.244.1.30', min_port: 36895, max_port: 36900 },
    recirc_id: 34,
    in_port: 0,
  });
  const v6 = decode(
    ovsRecord({
      type: 4,
      action: 12,
      flags: F.CT,
      ct_flags: 1 | 8 | 16 | 32 | 128,
      zone_id: 0,
      min_addr: Buffer.from('20010db8000000000000000000000001', 'hex'),
      max_addr: Buffer.from('20010db8000000000000000000000001', 'hex'),
    }),
  );
  expect(v6?.nat).toEqual({ dir: 'src', min_addr: '2001:db8::1', max_addr: '2001:db8::1' });
  // Without NAT there is no nat object, and no flags means plain ct.
  expect(decode(ovsRecord({ type: 4, action: 12, flags: F.CT, ct_flags: 4, zone_id: 7 }))).not.toHaveProperty('nat');
});

test('the lookup tap hands each flow_lookup with a ufid to the enricher and never consumes the record', () => {
  const seen: unknown[] = [];
  const tap = lookupTap(layouts, (r) => seen.push(r));
  const hit = ovsRecord({ type: 8, flags: F.UFID, flow: 0x10n, sf_acts: 0x20n, ufid: UFID });
  const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.length);
  expect(tap(view(hit), hit, 0, hit.length)).toBe(false);
  const noUfid = ovsRecord({ type: 8, flow: 0x10n });
  const action = ovsRecord({ type: 4, action: 1, flags: F.UFID });
  tap(view(noUfid), noUfid, 0, noUfid.length);
  tap(view(action), action, 0, action.length);
  expect(seen).toEqual([{ ufid: WORDS, flow: 0x10n, sf_acts: 0x20n }]);
});

describe('FlowEnricher', () => {
  let clock = 0;
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  beforeEach(() => {
    clock = 0;
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
  });
  afterEach(() => jest.useRealTimers());

  function enricher(answers: (m: string, p: string[]) => string, detrace = true) {
    const calls: string[] = [];
    const out: OvsDetrace[] = [];
    const e = new FlowEnricher({
      run: (m, p) => {
        calls.push(`${clock} ${m} ${p.join(' ')}`);
        try {
          return Promise.resolve(answers(m, p));
        } catch (err) {
          return Promise.reject(err as Error);
        }
      },
      emit: (d) => out.push(d),
      rate: 2,
      detrace: () => detrace,
      now: () => clock,
    });
    return { e, calls, out };
  }
  const advance = async (ms: number): Promise<void> => {
    clock += ms;
    jest.advanceTimersByTime(ms);
    await flush();
  };
  const req = (w0: number, flow = 1n) => ({ ufid: [w0, 0, 0, 0], flow, sf_acts: 2n });

  test('asks dpctl/get-flow and ofproto/detrace (pmd NULL) per flow, at most `rate` flows a second', async () => {
    const { e, calls, out } = enricher((m, p) =>
      m === 'dpctl/get-flow' ? `${p[0]}, recirc_id(0),in_port(2) actions:3\n` : 'cookie=0, priority=0,actions=NORMAL\n',
    );
    e.request(req(1));
    e.request(req(2));
    e.request(req(3));
    await advance(0);
    expect(out.map((d) => d.ufid?.[0])).toEqual([1]);
    expect(out[0]).toEqual({
      ufid: [1, 0, 0, 0],
      flow: 1n,
      sf_acts: 2n,
      dpflow: 'ufid:00000001-0000-0000-0000-000000000000, recirc_id(0),in_port(2) actions:3',
      ofpflows: ['cookie=0, priority=0,actions=NORMAL'],
    });
    expect(calls[1]).toBe('0 ofproto/detrace ufid:00000001-0000-0000-0000-000000000000 pmd=2147483647');
    await advance(499);
    expect(out).toHaveLength(1);
    await advance(1);
    expect(out).toHaveLength(2);
    await advance(500);
    expect(out.map((d) => d.ufid?.[0])).toEqual([1, 2, 3]);
  });

  test('a flow is asked about once while it lives; a new flow under the same ufid again', async () => {
    const { e, out } = enricher((m, p) => (m === 'dpctl/get-flow' ? `${p[0]} actions:1` : 'rule'));
    e.request(req(1));
    await advance(0);
    e.request(req(1));
    await advance(1000);
    expect(out).toHaveLength(1);
    e.request(req(1, 9n));
    await advance(1000);
    expect(out.map((d) => d.flow)).toEqual([1n, 9n]);
  });

  test('without ofproto/detrace (OVS before 3.4) the datapath flow alone; a missing flow fails', async () => {
    const { e, calls, out } = enricher((m, p) => {
      if (p[0]?.startsWith('ufid:00000002')) throw new Error('flow not found');
      return `${p[0]} actions:1`;
    }, false);
    e.request(req(1));
    e.request(req(2));
    await advance(0);
    await advance(500);
    expect(calls.every((c) => c.includes('dpctl/get-flow'))).toBe(true);
    expect(out).toEqual([expect.objectContaining({ ufid: [1, 0, 0, 0], ofpflows: [] })]);
    expect(e.stats).toMatchObject({ emitted: 1, failed: 1 });
  });

  test('"Cache was not found" is asked again at the next turn; requests older than 10 s are dropped', async () => {
    let tries = 0;
    const { e, out } = enricher((m, p) => {
      if (m === 'dpctl/get-flow') return `${p[0]} actions:1`;
      return ++tries < 3 ? 'Cache was not found for ufid' : 'rule';
    });
    e.request(req(1));
    await advance(0);
    await advance(500);
    expect(out).toHaveLength(0);
    await advance(500);
    expect(out).toHaveLength(1);
    e.stop();
    const late = enricher(() => 'x').e;
    late.request(req(5));
    clock += 10_001;
    late.request(req(6));
    jest.advanceTimersByTime(0);
    await flush();
    expect(late.stats.expired).toBe(1);
    late.stop();
  });

  test('stop: nothing more is asked or emitted; what waited is counted unsent', async () => {
    const { e, calls, out } = enricher((m, p) => `${p[0]} actions:1`);
    e.request(req(1));
    e.request(req(2));
    await advance(0);
    e.stop();
    await advance(5000);
    expect(out).toHaveLength(1);
    expect(calls.filter((c) => c.includes('get-flow'))).toHaveLength(1);
    expect(e.stats.unsent).toBe(1);
  });
});

describe('ovs-vswitchd control socket (unixctl)', () => {
  let dir: string;
  let server: Server;
  const got: unknown[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'retrace-unixctl-'));
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '4242\n');
    server = createServer((c) => {
      let buf = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => {
        buf += d;
        for (let end = jsonObjectEnd(buf); end > 0; end = jsonObjectEnd(buf)) {
          const req = JSON.parse(buf.slice(0, end)) as { method: string; params: string[]; id: number };
          buf = buf.slice(end);
          got.push(req);
          if (req.method === 'slow') continue;
          const reply =
            req.method === 'fail'
              ? { id: req.id, result: null, error: 'unknown command\n' }
              : { id: req.id, result: `${req.method} {"} ${req.params.join(',')}\n`, error: null };
          // Split in two writes: a reply ends where its JSON object does, not where a read does.
          const text = JSON.stringify(reply);
          c.write(text.slice(0, 7));
          setTimeout(() => c.write(text.slice(7)), 5);
        }
      });
    });
    await new Promise<void>((r) => server.listen(join(dir, 'ovs-vswitchd.4242.ctl'), r));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('finds the socket from the pid file, runs commands in order, reports errors', async () => {
    const path = vswitchdControlPath(dir);
    expect(path).toBe(join(dir, 'ovs-vswitchd.4242.ctl'));
    const u = new Unixctl(path, 300);
    const [a, b] = await Promise.all([u.run('dpctl/get-flow', ['ufid:1']), u.run('list-commands')]);
    expect(a).toBe('dpctl/get-flow {"} ufid:1\n');
    expect(b).toBe('list-commands {"} \n');
    await expect(u.run('fail')).rejects.toThrow(/unknown command/);
    await expect(u.run('slow')).rejects.toThrow(/did not answer slow within 300 ms/);
    // The connection is made anew after a timeout, and works.
    await expect(u.run('again', ['x'])).resolves.toBe('again {"} x\n');
    u.close();
    expect(got).toContainEqual({ method: 'dpctl/get-flow', params: ['ufid:1'], id: 0 });
  });

  test('no pid file or no socket: an error saying what to check', () => {
    expect(() => vswitchdControlPath(join(dir, 'nowhere'))).toThrow(UnixctlError);
    expect(() => vswitchdControlPath(join(dir, 'nowhere'))).toThrow(/is ovs-vswitchd running\? \(set OVS_RUNDIR/);
  });
});
