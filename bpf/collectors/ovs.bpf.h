/* The ovs collector's part of the record: what its programs (ovs.progs.bpf.h) prepared in
 * ovs_stash before handing the packet to chain(), copied into the record of the same hit (hooks:
 * bpf/collectors/README.md). ovs-vswitchd's USDT probes write records with this part directly. */
#ifndef __RETRACE_OVS_BPF_H
#define __RETRACE_OVS_BPF_H

#include "compat.bpf.h"
#include "event.h"

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
	OVS_FLOW_LOOKUP = 8,	/* kretprobe ovs_flow_tbl_lookup_stats: the datapath found a flow */
};
RETRACE_BTF_ENUM(retrace_ovs_type);
enum retrace_ovs_flags {
	OVS_F_QUEUE_ID = 1 << 0,	/* queue_id is set */
	OVS_F_PORT = 1 << 1,		/* port is set */
	OVS_F_UFID = 1 << 2,		/* ufid is set */
	OVS_F_BATCH = 1 << 3,		/* batch_ts and batch_idx are set */
	OVS_F_UPCALL = 1 << 4,		/* upcall_ts and upcall_cpu are set */
	OVS_F_ACT_ARG = 1 << 5,		/* act_arg is set (recirc action: its id; drop action: its reason) */
	OVS_F_CT = 1 << 6,		/* the ct action's details are set */
};
RETRACE_BTF_ENUM(retrace_ovs_flags);
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
	__u64 flow;		/* flow_lookup: the struct sw_flow found ... */
	__u64 sf_acts;		/* ... and its actions (struct sw_flow_actions) */
	__u32 n_mask_hit;	/* flow_lookup: masks tried */
	__u32 n_cache_hit;	/* ... and mask cache hits */
	__u32 act_arg;		/* recirc action: the id it recirculates with; drop action: its reason */
	__u32 ct_flags;		/* ct action: R_OVS_CT_* (ovs/actions.bpf.h) */
	__u16 zone_id;		/* ct action: conntrack zone */
	__u16 min_port;		/* ct action with NAT: port range (host order) */
	__u16 max_port;
	__u16 pad2;
	__u8 min_addr[16];	/* ct action with NAT: address range (IPv4: first 4 bytes) */
	__u8 max_addr[16];
};

/* Records of this load carry the ovs part (the per-target loads of the ovs kernel programs). */
const volatile bool col_ovs = false;

/* The ovs part the ovs programs prepared, for the record of the same hit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct retrace_ovs);
} ovs_stash SEC(".maps");

/* Copies the prepared part once: a record of another probe on this CPU must not repeat it. */
static __always_inline bool ovs_fill(void *ctx, const struct sk_buff *s, struct retrace_ovs *part)
{
	__u32 zero = 0;
	struct retrace_ovs *o = bpf_map_lookup_elem(&ovs_stash, &zero);

	if (!o || !o->type)
		return false;
	__builtin_memcpy(part, o, sizeof(*part));
	o->type = 0;
	return true;
}

#endif
