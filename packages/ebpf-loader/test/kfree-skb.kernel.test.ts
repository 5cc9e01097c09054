// A drop caused by an nft rule in a scratch namespace reaches JS with the kernel's reason.
import { BpfObject, KernelBtf, RingBufferReader, bpfObjectPath, decodeRecord } from '@retrace/ebpf-loader';
import { Netns, listNetns, waitFor } from '@retrace/e2e';
import { structLayout } from './struct-layout.js';

const objectPath = bpfObjectPath('tests/kfree_skb_probe');
const layout = structLayout(objectPath, 'kfree_skb_record');

function reasonName(value: number): string | undefined {
  const reasons = KernelBtf.vmlinux().enumValues('skb_drop_reason');
  for (const [name, v] of reasons ?? []) if (v === BigInt(value)) return name;
  return undefined;
}

test('a UDP datagram dropped by an nft rule is received with reason NETFILTER_DROP, device and namespace', async () => {
  const ns = Netns.create('kfree');
  const obj = BpfObject.open(objectPath);
  let rb: RingBufferReader | undefined;
  try {
    ns.nft(`table inet rt_test {
      chain input { type filter hook input priority 0; policy accept; udp dport 9999 drop; }
    }`);
    obj.setGlobal('target_netns_ino', ns.inode);
    obj.load();
    obj.program('on_kfree_skb').attachTracing();
    const records: Record<string, number>[] = [];
    rb = new RingBufferReader(obj.map('events'), (batch) => {
      for (const r of batch) records.push(decodeRecord(layout, r));
    }).start();

    ns.sendUdp('127.0.0.1', 9999);
    ns.sendUdp('127.0.0.1', 9998); // passes nft, then finds no socket: a different reason
    await waitFor(
      () => records.some((r) => r['dport'] === 9999) && records.some((r) => r['dport'] === 9998),
      'both dropped datagrams',
    );

    const drop = records.find((r) => r['dport'] === 9999);
    expect(drop).toBeDefined();
    if (!drop) return;
    expect(reasonName(drop['reason'] ?? -1)).toBe('SKB_DROP_REASON_NETFILTER_DROP');
    expect(drop['l4_proto']).toBe(17);
    expect(drop['netns_ino']).toBe(ns.inode);
    const loIndex = Number(/^(\d+):/.exec(ns.ip('-o', 'link', 'show', 'lo'))?.[1]);
    expect(drop['ifindex']).toBe(loIndex);
    const noSocket = records.find((r) => r['dport'] === 9998);
    expect(noSocket && reasonName(noSocket['reason'] ?? -1)).toBe('SKB_DROP_REASON_NO_SOCKET');
  } finally {
    rb?.close();
    obj.close();
    ns.destroy();
  }
  expect(listNetns()).not.toContain(ns.name);
});

test('the namespace and its nft table are removed even when the test body throws', async () => {
  let name = '';
  await expect(
    (async () => {
      const ns = Netns.create('failing');
      name = ns.name;
      try {
        ns.nft('table inet rt_test { chain input { type filter hook input priority 0; policy accept; }; }');
        throw new Error('simulated test failure');
      } finally {
        ns.destroy();
      }
    })(),
  ).rejects.toThrow('simulated test failure');
  expect(name).not.toBe('');
  expect(listNetns()).not.toContain(name);
});
