/* filter_run.bpf.c for filters translated with direct packet loads (agent/src/filter): the same
 * test input, handed to the filter as a read-only pointer (bpf_rdonly_cast to void, 6.17+), as
 * the probe does. An object of its own: kernels without the kfunc refuse the whole object. */
#define RETRACE_DIRECT_READS
#include "compat.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("retrace/tc")
int run_filter(struct __sk_buff *skb)
{
	void *data = bpf_rdonly_cast((void *)(long)skb->data, 0);

	if (skb->cb[2] == 3)
		return packet_filter_l3(data, skb->cb[0], skb->cb[1]) != 0;
	return packet_filter_l2(data, skb->cb[0], skb->cb[1]) != 0;
}
