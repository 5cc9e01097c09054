/* Test probe: reports dropped IPv4 packets of one network namespace with their drop reason. */
#include "compat.bpf.h"
#include "kfree_skb_probe.h"

char LICENSE[] SEC("license") = "GPL";

/* Set from userspace before load; 0 reports every namespace. */
const volatile __u32 target_netns_ino = 0;

RETRACE_BTF_TYPE(kfree_skb_record);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct kfree_skb_record *r;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	__u32 ino = dev_netns_ino(dev);
	unsigned char *head;
	struct iphdr ip;
	__u16 nh, th;

	if (target_netns_ino && ino != target_netns_ino)
		return 0;
	if (BPF_CORE_READ(skb, protocol) != bpf_htons(0x0800))
		return 0;
	head = BPF_CORE_READ(skb, head);
	nh = BPF_CORE_READ(skb, network_header);
	if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
		return 0;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	r->reason = reason;
	r->ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
	r->netns_ino = ino;
	r->protocol = 0x0800;
	r->l4_proto = ip.protocol;
	r->saddr = ip.saddr;
	r->daddr = ip.daddr;
	if (ip.protocol == 17) {
		struct udphdr udp;

		th = BPF_CORE_READ(skb, transport_header);
		if (!bpf_probe_read_kernel(&udp, sizeof(udp), head + th)) {
			r->sport = bpf_ntohs(udp.source);
			r->dport = bpf_ntohs(udp.dest);
		}
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}
