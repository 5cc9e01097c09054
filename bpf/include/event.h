/* The record every probe writes to the ring buffer: versioned and fixed-layout. Shared by BPF
 * and userspace; the TypeScript decoder reads this layout from the object's BTF. */
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
	SEC_CT = 1 << 13,		/* the record has the ct part (the packet has a conntrack entry) */
	SEC_CT_PARENT = 1 << 14,	/* ... and the entry has a parent (master) connection */
	SEC_NFT_MSG = 1 << 15,		/* a struct retrace_nft_msg record, not a retrace_event */
	SEC_NFT = 1 << 16,		/* the record has the nft part (the __nft_trace_packet kprobe) */
	SEC_OVS = 1 << 17,		/* the record has the ovs part */
};

#define RETRACE_NFT_NAME_MAX 64

enum retrace_nft_flags {
	NFT_F_RULE = 1 << 0,	/* a rule decided (rule_handle is set) */
	NFT_F_POLICY = 1 << 1,	/* the base chain's policy decided */
	NFT_F_VCHAIN = 1 << 2,	/* the verdict names a chain (jump, goto) */
};

/* An nftables decision, read at __nft_trace_packet where kprobes exist (retis's way). */
struct retrace_nft {
	char table[RETRACE_NFT_NAME_MAX];
	char chain[RETRACE_NFT_NAME_MAX];
	char verdict_chain[RETRACE_NFT_NAME_MAX];
	__u64 table_handle;
	__u64 chain_handle;
	__u64 rule_handle;
	__s32 verdict;		/* NF_* (>= 0) or NFT_* (< 0) code */
	__u8 family;		/* NFPROTO_* of the table */
	__u8 flags;
	__u16 pad;
};

#define RETRACE_NFT_MSG_MAX 512

/* An nftables trace message as the kernel queued it to one of retrace's netlink sockets, with
 * the kernel time and CPU it was sent at: the rule was evaluated right then, on that CPU. Its
 * first fields are retrace_event's (a test checks), so readers tell the two apart by present. */
struct retrace_nft_msg {
	__u16 version;
	__u16 size;
	__u32 probe_id;
	__u32 present;
	__u32 cpu;
	__u64 timestamp;
	__u32 netns_inum;
	__u32 msg_len;		/* full message length (msg holds at most RETRACE_NFT_MSG_MAX) */
	__u32 capture_len;
	__u32 pad;
	__u8 msg[RETRACE_NFT_MSG_MAX];
};

/* Open vSwitch events: the kernel datapath's upcalls and actions, ovs-vswitchd's handling of
 * upcalls (USDT). */
enum retrace_ovs_type {
	OVS_UPCALL = 1,		/* tp openvswitch:ovs_dp_upcall: a packet goes up to ovs-vswitchd */
	OVS_UPCALL_ENQUEUE = 2,	/* queue_userspace_packet returned: queued (or not: ret) */
	OVS_UPCALL_RETURN = 3,	/* ovs_dp_upcall returned */
	OVS_ACTION_EXECUTE = 4,	/* tp openvswitch:ovs_do_execute_action */
	OVS_RECV_UPCALL = 5,	/* USDT dpif_recv:recv_upcall: a handler thread read the upcall */
	OVS_FLOW_PUT = 6,	/* USDT dpif_netlink_operate__:op_flow_put: it installs a flow */
	OVS_FLOW_EXEC = 7,	/* USDT dpif_netlink_operate__:op_flow_execute: it sends the packet back */
};
enum retrace_ovs_flags {
	OVS_F_QUEUE_ID = 1 << 0,	/* queue_id is set */
	OVS_F_PORT = 1 << 1,		/* port is set */
	OVS_F_UFID = 1 << 2,		/* ufid is set */
	OVS_F_BATCH = 1 << 3,		/* batch_ts and batch_idx are set */
	OVS_F_UPCALL = 1 << 4,		/* upcall_ts and upcall_cpu are set */
};
#define RETRACE_OVS_NAME_MAX 32
struct retrace_ovs {
	__u8 type;		/* enum retrace_ovs_type */
	__u8 cmd;		/* upcall: OVS_PACKET_CMD_* */
	__u8 flags;
	__u8 batch_idx;
	__u32 port;		/* upcall: the handler's netlink port id; output action: datapath port */
	__u32 cpu;		/* upcall: the CPU it was sent from */
	__u32 queue_id;		/* the upcall's id: jhash of the packet's first 64 bytes (zero-padded) */
	__s32 ret;
	__u32 action;		/* OVS_ACTION_ATTR_* */
	__u32 recirc_id;
	__u32 in_port;		/* datapath port the packet came in on */
	__u32 upcall_type;	/* recv_upcall: DPIF_UC_* */
	__u32 pkt_size;
	__u64 key_size;
	__u64 batch_ts;		/* when the handler's batch began */
	__u64 upcall_ts;	/* enqueue, return: the upcall event's timestamp ... */
	__u32 upcall_cpu;	/* ... and CPU */
	__u32 pad;
	__u8 ufid[16];
	char dp_name[RETRACE_OVS_NAME_MAX];
};

/* A conntrack tuple, protocol-neutral: ports (or ICMP id / type+code) as the kernel stores them,
 * in network byte order. */
struct retrace_ct_tuple {
	__u8 src[16];
	__u8 dst[16];
	__u16 src_all;		/* source port, or ICMP id */
	__u16 dst_all;		/* destination port, or ICMP type (low byte) and code */
	__u16 l3num;		/* AF_INET / AF_INET6 */
	__u8 protonum;
	__u8 pad;
};

enum retrace_ct_flags {
	CT_F_ZONE = 1 << 0,	/* the kernel has conntrack zones */
	CT_F_MARK = 1 << 1,	/* ... connection marks */
	CT_F_LABELS = 1 << 2,	/* the entry carries labels */
	CT_F_UNTRACKED = 1 << 3,	/* the packet is marked untracked (notrack) */
};

struct retrace_ct_conn {
	struct retrace_ct_tuple orig;
	struct retrace_ct_tuple reply;
	__u64 status;
	__u32 mark;
	__u32 sctp_vtag_orig;
	__u32 sctp_vtag_reply;
	__u16 zone_id;
	__u8 zone_dir;
	__u8 proto_state;	/* TCP or SCTP conntrack state */
	__u8 flags;
	__u8 pad[7];
	__u8 labels[16];
};

struct retrace_ct {
	struct retrace_ct_conn conn;
	struct retrace_ct_conn parent;
	__u8 info;		/* enum ip_conntrack_info: NEW, ESTABLISHED, RELATED, ... _REPLY */
	__u8 pad[7];
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

	/* ct, nft, ovs: last, and only reserved when needed (the record size says which). */
	struct retrace_ct ct;
	struct retrace_nft nft;
	struct retrace_ovs ovs;
};

#endif
