/* The record every probe writes to the ring buffer: versioned and fixed-layout, the base sections
 * first, then the parts of the collectors in bpf/collectors/ (chain.bpf.h puts them together).
 * The TypeScript decoders read this layout from the object's BTF. */
#ifndef __RETRACE_EVENT_H
#define __RETRACE_EVENT_H

#define RETRACE_EVENT_VERSION 1
#define RETRACE_PACKET_MAX 256	/* bytes of packet data captured, from the link-layer header */
#define RETRACE_PROBES_MAX 1024
#define RETRACE_ARGS_MAX 12

/* Sections present in a record (retrace_event.present). */
enum retrace_section {
	SEC_TRACKING = 1 << 0,
	SEC_DROP = 1 << 1,
	SEC_DEV = 1 << 2,
	SEC_NETNS = 1 << 3,
	SEC_SKB = 1 << 4,
	SEC_PACKET = 1 << 5,
	SEC_STACK = 1 << 6,
	SEC_DROP_NO_REASON = 1 << 7,	/* a drop probe on a kernel without drop reasons */
	SEC_FAKE_ETH = 1 << 8,		/* packet has a zeroed Ethernet header (no link layer at this probe) */
	SEC_VLAN = 1 << 9,
	SEC_RX_IFINDEX = 1 << 10,
	SEC_NETNS_COOKIE = 1 << 11,
	SEC_USERSPACE = 1 << 12,
	/* A record of a collector's own type, not a retrace_event (it starts with the same header
	 * fields): the collector is the one whose part bit is set too. */
	SEC_OWN_RECORD = 1 << 13,
	/* The first collector part: a record has collector i's part when SEC_PART_0 << i is set
	 * (i: enum retrace_part, SEC_PART(name) in chain.bpf.h). */
	SEC_PART_0 = 1 << 16,
};

/* Per-probe settings, indexed by probe id (the attach cookie, or a rodata constant). */
enum retrace_probe_flags {
	PROBE_F_STACK = 1 << 0,		/* record a kernel stack */
	PROBE_F_FREE = 1 << 1,		/* a freeing point: forget the skb (and its head when not shared) */
	PROBE_F_NO_CREATE = 1 << 2,	/* never start tracking here (e.g. return probes) */
	PROBE_F_SILENT = 1 << 3,	/* no event: a freeing point added for tracking only */
	PROBE_F_DROP = 1 << 4,		/* a drop point (skb:kfree_skb): report the reason, or its absence */
	PROBE_F_FREE_HEAD = 1 << 5,	/* the data buffer is freed (skb_free_head): forget the head only */
};

struct probe_config {
	__u8 skb_arg;		/* argument index + 1 of the struct sk_buff *, 0: none */
	__u8 reason_arg;	/* argument index + 1 of the drop reason, 0: none */
	__u8 flags;
	__u8 pad;
};

struct probe_counters {
	__u64 hits;		/* times the probe ran with an skb */
	__u64 lost;		/* records the ring buffer had no room for */
};

struct retrace_event {
	__u16 version;
	__u16 size;
	__u32 probe_id;
	__u32 present;
	__u32 cpu;
	__u64 timestamp;
	__u32 pid;
	__u32 tgid;
	char comm[16];

	/* userspace (USDT): instruction pointer */
	__u64 ip;

	/* skb-tracking */
	__u64 skb;
	__u64 orig_head;
	__u64 track_ts;

	/* skb-drop */
	__u32 drop_reason;
	__s32 stack_id;

	/* dev */
	char dev_name[16];
	__u32 ifindex;
	__u32 rx_ifindex;

	/* netns */
	__u64 netns_cookie;
	__u32 netns_inum;

	/* skb */
	__u32 len;
	__u32 data_len;
	__u32 hash;
	__u32 csum;
	__u32 priority;
	__u32 mark;
	__u32 users;
	__u32 dataref;
	__u32 gso_type;
	__u16 gso_size;
	__u16 gso_segs;
	__u16 vlan_tci;
	__u16 vlan_proto;
	__u16 protocol;
	__u8 ip_summed;
	__u8 csum_level;
	__u8 nohdr;
	__u8 cloned;
	__u8 fclone;
	__u8 nr_frags;

	/* packet */
	__u32 pkt_len;
	__u32 capture_len;
	__u8 packet[RETRACE_PACKET_MAX];

	/* The collectors' parts follow (struct retrace_parts, chain.bpf.h): reserved up to the last
	 * part whose collector runs (the record size says how far). */
};

#endif
