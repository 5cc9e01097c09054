// Benchmark: what each basic operation of the packet path costs on this kernel. Every program
// of bpf/tests/op_cost.bpf.c does one operation per hit (a map lookup, a copy, a helper, a ring
// buffer record, a typed load...); each is attached alone to net:netif_receive_skb while iperf3
// runs, and its time per hit from the kernel's statistics is printed next to the empty
// program's (what the statistics themselves cost): the table in docs/cost/bpf.md.
import { iperf, lab, opCost } from './packet-path-lab.js';

const SECONDS = Number(process.env['RETRACE_BENCH_OP_SECONDS'] ?? 2);
const OPS: [string, string][] = [
  ['op_empty', 'nothing (the statistics alone)'],
  ['op_cookie', 'attach cookie (the probe id)'],
  ['op_dispatch', 'cookie, config, skb cast, flags (a probe before its filter)'],
  ['op_array_lookup', 'array map lookup'],
  ['op_percpu_count', 'per-CPU counter increment'],
  ['op_ktime', 'bpf_ktime_get_ns'],
  ['op_task', 'pid, comm, CPU through helpers'],
  ['op_task_btf', 'pid, comm through the task (typed loads)'],
  ['op_probe_read_8', 'bpf_probe_read_kernel, 8 bytes'],
  ['op_skb_snapshot', 'bpf_probe_read_kernel, the whole sk_buff'],
  ['op_core_read_5', '5 fields with BPF_CORE_READ'],
  ['op_cast_direct_5', '5 fields through bpf_rdonly_cast (typed loads)'],
  ['op_btf_direct_5', '5 fields in a tp_btf program (typed loads)'],
  ['op_dev_name_str', 'device name, bpf_probe_read_kernel_str'],
  ['op_packet_copy_256', '256 packet bytes'],
  ['op_lru_lookup_miss', 'LRU hash lookup (miss)'],
  ['op_lru_update_delete', 'LRU hash insert + delete'],
  ['op_hash_update_delete', 'hash insert + delete'],
  ['op_ringbuf_query', 'ring buffer fill level'],
  ['op_ringbuf_discard', 'ring buffer reserve + discard'],
  ['op_ringbuf_record', 'ring buffer record, 64 bytes written'],
  ['op_ringbuf_record_full', 'ring buffer record, 456 bytes written'],
  ['op_ringbuf_percpu_full', 'the same in a ring buffer per CPU'],
];

async function one(op: string): Promise<number> {
  const l = lab();
  try {
    const run = opCost([op]); // each is declared on net:netif_receive_skb
    await run.ready;
    iperf(l, SECONDS);
    const ns = (await run.stop()).get(op);
    if (ns === undefined) throw new Error(`${op}: no statistics`);
    return ns;
  } finally {
    l.destroy();
  }
}

async function main(): Promise<void> {
  console.log(`BPF operations, each alone on net:netif_receive_skb (iperf3 over veth, ${SECONDS}s each), ns per hit`);
  let floor = 0;
  for (const [op, what] of OPS) {
    const ns = await one(op);
    if (op === 'op_empty') floor = ns;
    console.log(
      `  ${what.padEnd(50)} ${ns.toFixed(0).padStart(5)}   ${op === 'op_empty' ? '' : `+${(ns - floor).toFixed(0)}`}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
