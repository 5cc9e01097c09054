// Loss is never silent: with a deliberately tiny ring buffer under a ping flood, lost events are
// counted per probe in BPF, reported, and delivered + lost equals what the probes produced.
import { spawn } from 'node:child_process';
import { TracingSession } from '@retrace/agent';
import { Netns, startCollect } from '@retrace/e2e';
import type { Event } from '@retrace/events';
import { readEvents, tempDir } from './helpers.js';

let ns: Netns;
const tmp = tempDir();

beforeAll(() => {
  ns = Netns.create('flood');
});

afterAll(() => {
  ns.destroy();
  tmp.remove();
});

function flood(count: number): Promise<unknown> {
  return new Promise((r) =>
    spawn('ip', ['netns', 'exec', ns.name, 'ping', '-f', '-c', String(count), '127.0.0.1'], { stdio: 'ignore' }).on(
      'exit',
      r,
    ),
  );
}

test('per probe, delivered + lost equals the hits counted in BPF, and loss happened', async () => {
  const delivered = new Map<string, number>();
  const session = TracingSession.start({
    collectors: ['skb', 'skb-tracking', 'dev', 'ns'],
    ringBytes: 4096, // room for about 9 records
    onEvent: (ev: Event) => {
      const s = ev.kernel?.symbol ?? '';
      delivered.set(s, (delivered.get(s) ?? 0) + 1);
    },
  });
  let counts;
  try {
    await flood(3000);
  } finally {
    counts = session.stop();
  }
  expect(counts.lost).toBeGreaterThan(0);
  for (const p of counts.perProbe) {
    if (p.hits === 0) continue;
    expect({ probe: p.symbol, total: (delivered.get(p.symbol) ?? 0) + p.lost }).toEqual({
      probe: p.symbol,
      total: p.hits,
    });
  }
  expect(counts.delivered + counts.lost).toBe(counts.hits);
});

test('collect reports the loss on stderr and in the file, per probe', async () => {
  const out = `${tmp.dir}/lossy.json`;
  const c = startCollect(['-c', 'skb,skb-tracking,dev,ns', '--ring-size', '4096', '-o', out]);
  await c.ready;
  await flood(2000);
  const r = await c.stop('SIGINT');
  expect(r.code).toBe(0);
  const total = Number(/(\d+) event\(s\) written to .*, (\d+) lost/.exec(r.stderr)?.[2]);
  expect(total).toBeGreaterThan(0);
  const lostEvents = readEvents(out).filter((e) => e.lost);
  expect(lostEvents.length).toBeGreaterThan(0);
  expect(lostEvents.reduce((n, e) => n + Number(e.lost?.count ?? 0), 0)).toBe(total);
  for (const e of lostEvents)
    expect(r.stderr).toContain(`lost ${e.lost?.count} event(s) from ${e.lost?.probe.split('/')[1]}`);
});
