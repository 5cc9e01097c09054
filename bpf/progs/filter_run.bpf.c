/* Runs the spliced packet filter on packets given with BPF_PROG_TEST_RUN: `retrace filter`
 * and the tcpdump ground-truth tests. skb->cb[0] carries the capture length, cb[1] the wire
 * length, cb[2] which filter (2: L2, 3: L3). */
#include "compat.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("retrace/tc")
int run_filter(struct __sk_buff *skb)
{
	void *pkt = (void *)(long)skb->data;
	__u64 data = 0;

	/* The filter reads through bpf_probe_read_kernel: hand it a plain address, not a packet
	 * pointer (copying the pointer through the helper turns it into a scalar). */
	bpf_probe_read_kernel(&data, sizeof(data), &pkt);
	if (skb->cb[2] == 3)
		return packet_filter_l3((void *)data, skb->cb[0], skb->cb[1]) != 0;
	return packet_filter_l2((void *)data, skb->cb[0], skb->cb[1]) != 0;
}
