/* Kernel feature probe for direct kernel reads (bpf_rdonly_cast, 6.2+): an object of its own,
 * because an unknown kfunc makes libbpf refuse the whole object, not just this program. */
#define RETRACE_DIRECT_READS
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("raw_tp")
int feat_direct_reads(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = KPTR(struct sk_buff, ctx->args[0]);

	return skb->len == 0;
}
