/* Record of the kfree_skb test probe, shared by BPF and the test (which checks the layout). */
#ifndef __KFREE_SKB_PROBE_H
#define __KFREE_SKB_PROBE_H

struct kfree_skb_record {
	__u32 reason;
	__u32 ifindex;
	__u32 netns_ino;
	__u16 protocol;	/* ETH_P_*, host order */
	__u8 l4_proto;
	__u8 pad;
	__u32 saddr;	/* network order */
	__u32 daddr;
	__u16 sport;	/* host order */
	__u16 dport;
};

#endif
