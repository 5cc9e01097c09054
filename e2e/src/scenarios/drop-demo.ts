// The interim main job: trace real packet drops (tp_btf skb:kfree_skb) caused in a scratch
// network namespace, print each with the kernel's drop reason, and clean up. Replaced by
// `retrace collect` once the tracing engine lands.
import {
  BpfObject,
  KernelBtf,
  RingBufferReader,
  bpfObjectPath,
  readField,
  type StructLayout,
} from '@retrace/ebpf-loader';
import { Netns } from '../lab/netns.js';
import { waitFor } from '../lab/wait.js';

interface Drop {
  reason: string;
  device: string;
  line: string;
}

function ipv4(n: number): string {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

function reasonNames(): Map<bigint, string> {
  const out = new Map<bigint, string>();
  for (const [name, v] of KernelBtf.vmlinux().enumValues('skb_drop_reason') ?? [])
    out.set(v, name.replace(/^SKB_DROP_REASON_/, ''));
  return out;
}

export async function runDropDemo(log: (line: string) => void = console.log): Promise<Drop[]> {
  const objectPath = bpfObjectPath('tests/kfree_skb_probe');
  const fileBtf = KernelBtf.file(objectPath);
  const layout: StructLayout | undefined = fileBtf.structLayout('kfree_skb_record');
  fileBtf.close();
  if (!layout) throw new Error(`kfree_skb_record missing from ${objectPath}: rebuild with make build`);
  const reasons = reasonNames();
  const ns = Netns.create('demo');
  const obj = BpfObject.open(objectPath);
  let rb: RingBufferReader | undefined;
  const stop = (): void => {
    rb?.close();
    obj.close();
    ns.destroy();
  };
  const onSignal = (): void => {
    stop();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    ns.nft(`table inet retrace_demo {
      chain input { type filter hook input priority 0; policy accept; udp dport 9999 counter drop; }
    }`);
    obj.setGlobal('target_netns_ino', ns.inode);
    obj.load();
    obj.program('on_kfree_skb').attachTracing();
    const lo = ns.ip('-o', 'link', 'show', 'lo');
    const loIndex = Number(/^(\d+):/.exec(lo)?.[1]);
    const drops: Drop[] = [];
    rb = new RingBufferReader(obj.map('events'), (batch) => {
      for (const rec of batch) {
        const f = (name: string): number => Number(readField(layout, rec, name));
        const reason = reasons.get(BigInt(f('reason'))) ?? `reason ${f('reason')}`;
        const device = f('ifindex') === loIndex ? 'lo' : `if${f('ifindex')}`;
        const proto = f('l4_proto') === 17 ? 'udp' : `proto ${f('l4_proto')}`;
        const line =
          `drop ${reason.padEnd(16)} dev ${device} netns ${f('netns_ino')}  ` +
          `${proto} ${ipv4(f('saddr'))}:${f('sport')} > ${ipv4(f('daddr'))}:${f('dport')}`;
        drops.push({ reason, device, line });
        log(`  ${line}`);
      }
    }).start();

    log(`tracing skb:kfree_skb (tp_btf) in network namespace ${ns.name} (inode ${ns.inode})`);
    log('  sending 3 UDP datagrams to 127.0.0.1:9999 (an nft rule drops them)');
    log('  sending 2 UDP datagrams to 127.0.0.1:9998 (nobody listens there)');
    for (let i = 0; i < 3; i++) ns.sendUdp('127.0.0.1', 9999, `drop-me-${i}`);
    for (let i = 0; i < 2; i++) ns.sendUdp('127.0.0.1', 9998, `no-listener-${i}`);
    await waitFor(() => drops.length >= 5, 'five drops to be reported');
    const byReason = new Map<string, number>();
    for (const d of drops) byReason.set(d.reason, (byReason.get(d.reason) ?? 0) + 1);
    log(`summary: ${drops.length} drops: ${[...byReason].map(([r, n]) => `${r} x${n}`).join(', ')}`);
    return drops;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop();
    log('cleaned up: programs detached, namespace and its nft table removed');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDropDemo().catch((e: unknown) => {
    console.error(`retrace demo failed: ${(e as Error).message}`);
    process.exit(1);
  });
}
