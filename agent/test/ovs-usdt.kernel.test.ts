// The userspace half of OVS upcall tracking, against a stand-in that fires ovs-vswitchd's USDT
// probes (Debian's ovs-vswitchd has none; the kernel half runs in the kernel lab). The programs
// are probe.bpf.o's own; what the kernel datapath would mark (the queue ids of followed packets'
// upcalls) is written into its map by the test.
import { spawn } from 'node:child_process';
import { BpfObject, RingBufferReader, bpfArtifactPath, bpfObjectPath } from '@retrace/ebpf-loader';
import {
  RecordDecoder,
  collectorSections,
  formatUfid,
  loadLayouts,
  ovsQueueId,
  planOvsUsdt,
  findVswitchd,
} from '@retrace/agent';
import type { Event } from '@retrace/events';
import { waitFor } from '@retrace/e2e';

const MIMIC = bpfArtifactPath('tests/ovs-mimic/ovs-vswitchd');
const layouts = loadLayouts();
const USDT = [
  ['dpif_recv', 'recv_upcall', 'ovs_recv_upcall'],
  ['dpif_netlink_operate__', 'op_flow_put', 'ovs_flow_put'],
  ['dpif_netlink_operate__', 'op_flow_execute', 'ovs_flow_exec'],
] as const;

interface Frame {
  i: number;
  thread: number;
  ops: string[];
  bytes: Buffer;
}

async function runMimic(args: string[]): Promise<{ frames: Frame[]; pid: number }> {
  const child = spawn(MIMIC, ['--mimic', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => child.on('exit', r));
  expect(code).toBe(0);
  const frames = out
    .trim()
    .split('\n')
    .map((l) => {
      const [, i, t, ops, hex] = l.split(' ');
      return { i: Number(i), thread: Number(t), ops: (ops ?? '').split(','), bytes: Buffer.from(hex ?? '', 'hex') };
    });
  return { frames, pid: child.pid ?? 0 };
}

/** Loads the ovs USDT programs, attaches them to the stand-in, returns decoded events. */
async function trace(
  filtered: boolean,
  mark: (upcalls: ReturnType<BpfObject['map']>) => void,
  mimicArgs: string[],
  expected: number,
): Promise<{ events: Event[]; frames: Frame[]; pending: bigint }> {
  const obj = BpfObject.open(bpfObjectPath('probe'));
  const events: Event[] = [];
  let rb: RingBufferReader | undefined;
  try {
    obj.setGlobals({ ovs_filtered: filtered });
    obj.loadOnly(USDT.map((u) => u[2]));
    mark(obj.map('ovs_upcalls'));
    USDT.forEach(([provider, name, prog], id) =>
      obj.program(prog).attachUsdt(MIMIC, provider, name, { cookie: BigInt(id) }),
    );
    const decoder = new RecordDecoder(
      layouts,
      USDT.map(([p, n]) => ({ symbol: `${p}:${n}`, probeType: 'usdt', path: MIMIC })),
      collectorSections(layouts, ['ovs']),
    );
    rb = new RingBufferReader(obj.map('events'), (b) => {
      for (let i = 0; i < b.count; i++) {
        const ev = decoder.decode(b.view, b.buffer, b.offset(i), b.length(i));
        if (ev) events.push(ev);
      }
    }).start();
    const { frames } = await runMimic(mimicArgs);
    const reader = rb;
    // On a time-out, say whether the probes ran (hits), the ring had no room (lost) or records
    // arrived that did not decode, so that a failure points at the kernel, the ring or the decoder.
    const why = (): string => {
      const counters = obj.map('counters');
      const perProbe = USDT.map(([, name], id) => {
        let hits = 0n;
        let lost = 0n;
        for (const v of counters.lookupPerCpu(id) ?? []) {
          hits += v.readBigUInt64LE(0);
          lost += v.readBigUInt64LE(8);
        }
        return `${name} hits ${hits} lost ${lost}`;
      });
      const got = events.map((e) => `${e.ovs?.event_type}/${e.ovs?.op_type ?? '-'}@${e.userspace?.tid}`).join(' ');
      return `${expected} USDT events (${perProbe.join(', ')}; ring delivered ${reader.stats().records}; decoded ${events.length}: ${got})`;
    };
    await waitFor(() => reader.consume() >= 0 && events.length >= expected, why);
    const pending = obj.map('ovs_exec_pending').lookup(0)?.readBigInt64LE(0) ?? -1n;
    return { events, frames, pending };
  } finally {
    rb?.close();
    obj.close();
  }
}

test('each upcall read by a handler thread is named by the hash of its packet; puts and executes are paired with their upcall in thread order', async () => {
  const { events, frames, pending } = await trace(false, () => undefined, ['--count', '6', '--threads', '2'], 16);
  const qid = new Map(frames.map((f) => [f.i, ovsQueueId(f.bytes)]));
  const recv = events.filter((e) => e.ovs?.event_type === 'recv_upcall');
  expect(recv).toHaveLength(6);
  expect(new Set(recv.map((e) => e.ovs?.queue_id))).toEqual(new Set(qid.values()));
  for (const e of recv) {
    expect(e.userspace).toMatchObject({ probe_type: 'usdt', symbol: 'dpif_recv:recv_upcall' });
    expect(e.ovs).toMatchObject({ type: 0, pkt_size: 80, key_size: 120n, dp_name: 'system@ovs-system' });
  }
  // Per thread: one batch, in the order the thread read them.
  for (const t of [0, 1]) {
    const mine = frames.filter((f) => f.thread === t);
    const tid = recv.find((e) => e.ovs?.queue_id === qid.get(mine[0]?.i ?? -1))?.userspace?.tid;
    const batch = recv.filter((e) => e.userspace?.tid === tid);
    expect(batch.map((e) => e.ovs?.queue_id)).toEqual(mine.map((f) => qid.get(f.i)));
    expect(batch.map((e) => e.ovs?.batch_idx)).toEqual([0, 1, 2]);
    expect(new Set(batch.map((e) => e.ovs?.batch_ts)).size).toBe(1);
    const ops = events.filter((e) => e.ovs?.event_type === 'flow_operation' && e.userspace?.tid === tid);
    // Every third frame has no put: the next put still goes to its own upcall.
    expect(ops.map((e) => `${e.ovs?.op_type}:${e.ovs?.queue_id}`)).toEqual(
      mine.flatMap((f) => f.ops.map((op) => `${op}:${qid.get(f.i)}`)),
    );
    for (const e of ops) expect(e.ovs?.batch_ts).toBe(batch[0]?.ovs?.batch_ts);
    const puts = ops.filter((e) => e.ovs?.op_type === 'put');
    // The stand-in's ufid bytes for frame i are i*16 .. i*16+15.
    for (const p of puts) {
      const f = mine.find((x) => qid.get(x.i) === p.ovs?.queue_id);
      const b = Buffer.from(Array.from({ length: 16 }, (_, k) => ((f?.i ?? 0) * 16 + k) & 0xff));
      const w = (k: number): string =>
        b
          .readUInt32LE(4 * k)
          .toString(16)
          .padStart(8, '0');
      expect(formatUfid(p.ovs?.ufid ?? [])).toBe(
        `${w(0)}-${w(1).slice(0, 4)}-${w(1).slice(4)}-${w(2).slice(0, 4)}-${w(2).slice(4)}${w(3)}`,
      );
    }
  }
  // Every execute is announced to the kernel, which will tag its execution with the queue id.
  expect(pending).toBe(6n);
});

test('with a packet filter, only upcalls the kernel marked as followed are reported', async () => {
  const probe = await runMimic(['--count', '5']);
  const followed = [1, 3].map((i) => ovsQueueId(probe.frames[i]?.bytes ?? Buffer.alloc(0)));
  const { events, pending } = await trace(
    true,
    (upcalls) => {
      for (const q of followed) {
        const k = Buffer.alloc(4);
        k.writeUInt32LE(q);
        upcalls.update(k, Buffer.alloc(8));
      }
    },
    ['--count', '5'],
    5,
  );
  expect(new Set(events.map((e) => e.ovs?.queue_id))).toEqual(new Set(followed));
  // frame 1 (second of the batch) has no put; frame 3 has both.
  expect(events.map((e) => `${e.ovs?.event_type}/${e.ovs?.op_type ?? ''}:${e.ovs?.queue_id}`)).toEqual([
    `recv_upcall/:${followed[0]}`,
    `recv_upcall/:${followed[1]}`,
    `flow_operation/exec:${followed[0]}`,
    `flow_operation/put:${followed[1]}`,
    `flow_operation/exec:${followed[1]}`,
  ]);
  expect(pending).toBe(2n);
});

test('--ovs-track finds ovs-vswitchd processes by name, and says when one has no USDT probes', async () => {
  const child = spawn(MIMIC, ['--mimic', '--count', '1', '--wait-ms', '3000'], { stdio: 'ignore' });
  try {
    await waitFor(() => findVswitchd().some((v) => v.pid === child.pid), 'the stand-in to be found');
    const found = findVswitchd().find((v) => v.pid === child.pid);
    expect(found).toMatchObject({ binary: `/proc/${child.pid}/exe`, path: MIMIC, usdt: true });
    // A daemon without the probes (Debian's build): a note, and no USDT probes for it.
    const plain = { pid: 1, binary: '/bin/true', path: '/usr/lib/openvswitch-switch/ovs-vswitchd', usdt: false };
    const plan = planOvsUsdt([plain, ...(found ? [found] : [])], 7);
    expect(plan.probes.map((p) => `${p.id} ${p.symbol} ${p.program} ${p.usdt?.binary}`)).toEqual([
      `7 dpif_recv:recv_upcall ovs_recv_upcall /proc/${child.pid}/exe`,
      `8 dpif_netlink_operate__:op_flow_put ovs_flow_put /proc/${child.pid}/exe`,
      `9 dpif_netlink_operate__:op_flow_execute ovs_flow_exec /proc/${child.pid}/exe`,
    ]);
    expect(plan.notes).toEqual([
      'ovs: ovs-vswitchd (pid 1, /usr/lib/openvswitch-switch/ovs-vswitchd) has no USDT probes (built without --enable-usdt-probes): its handling of upcalls is not shown',
    ]);
    expect(planOvsUsdt([], 0).notes[0]).toMatch(/no ovs-vswitchd process found/);
  } finally {
    child.kill();
  }
});
