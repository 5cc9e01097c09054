/* Deliberately invalid: reserves ring buffer space and never submits it, which the verifier
 * refuses ("Unreleased reference"). Used to test that the verifier log reaches the user. */
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} leaky SEC(".maps");

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(leaks_reservation, struct sk_buff *skb)
{
	__u64 *slot = bpf_ringbuf_reserve(&leaky, sizeof(*slot), 0);

	if (slot)
		*slot = 1;
	return 0;
}
