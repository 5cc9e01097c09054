/* Kernel feature probes: each program is loaded (and attached) alone to find out, by trying,
 * whether this kernel supports its attach kind. Bodies stay trivial on purpose. */
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} feat_ringbuf SEC(".maps");

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(feat_tp_btf, struct sk_buff *skb)
{
	return 0;
}

SEC("raw_tp")
int feat_raw_tp(void *ctx)
{
	return 0;
}

/* bpf_get_attach_cookie() in raw tracepoints arrived with raw tracepoint cookies (6.10). */
SEC("raw_tp")
int feat_raw_tp_cookie(void *ctx)
{
	return bpf_get_attach_cookie(ctx) == 0;
}

SEC("kprobe")
int feat_kprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("kprobe.multi")
int feat_kprobe_multi(struct pt_regs *ctx)
{
	return 0;
}

SEC("fentry")
int feat_fentry(void *ctx)
{
	return 0;
}

SEC("uprobe")
int feat_uprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(feat_ringbuf_output, struct sk_buff *skb)
{
	__u64 v = 0;

	bpf_ringbuf_output(&feat_ringbuf, &v, sizeof(v), 0);
	return 0;
}
