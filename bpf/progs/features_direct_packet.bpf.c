/* Kernel feature probe for direct packet loads: bpf_rdonly_cast(p, 0), a cast to void (6.17+),
 * gives a read-only pointer through which loads at variable offsets verify, each a load the JIT
 * guards against faults. Older kernels with the kfunc refuse the cast to a non-struct type at
 * verification: an object of its own, like features_direct.bpf.c, so that only this program fails. */
#define RETRACE_DIRECT_READS
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("raw_tp")
int feat_direct_packet(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sk_buff *skb = KPTR(struct sk_buff, ctx->args[0]);
	const unsigned char *p = bpf_rdonly_cast(skb->head, 0);
	__u32 off = skb->mac_header;

	/* What a filter does: an offset known only at run time (the IPv4 header length). */
	return p[off + 14 + (p[off + 14] & 0xf) * 4];
}
