/* The ovs collector's kernel side: the openvswitch tracepoints (upcall, action execution) and,
 * where kprobes exist, the returns of ovs_dp_upcall and queue_userspace_packet. Each prepares the
 * ovs part in ovs_stash, then hands the packet to chain_emit(), which copies it into the record. */
#ifndef __RETRACE_OVS_DATAPATH_BPF_H
#define __RETRACE_OVS_DATAPATH_BPF_H

#include "chain.bpf.h"
#include "collectors/ovs/shared.bpf.h"
#include "collectors/ovs/actions.bpf.h"

/* Which return the ovs_kret_* pair reports (OVS_UPCALL_RETURN or OVS_UPCALL_ENQUEUE). */
const volatile __u8 ovs_kret_type = 0;

/* The datapath's types live in the openvswitch module's BTF: CO-RE finds them there. */
struct dp_upcall_info___ovs {
	__u32 portid;
	__u8 cmd;
} __attribute__((preserve_access_index));

struct sw_flow_key___ovs {
	struct {
		__u16 in_port;
	} phy;
	__u32 recirc_id;
} __attribute__((preserve_access_index));

struct datapath___ovs {
	struct hlist_head *ports;
} __attribute__((preserve_access_index));

struct vport___ovs {
	struct net_device *dev;
	struct hlist_node dp_hash_node;
	__u16 port_no;
} __attribute__((preserve_access_index));

/* skb -> queue id of an execution ovs-vswitchd asked for (its later actions keep the id). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} ovs_exec_skbs SEC(".maps");

/* The upcall in progress on a thread (its event's time and CPU), and an entry probe's skb. */
struct ovs_inflight {
	__u64 skb;
	__u64 upcall_ts;
	__u32 upcall_cpu;
	__u32 queue_id;
	__u32 port;
	__u8 cmd;
	__u8 has_upcall;
	__u16 pad;
};
struct ovs_kret_key {
	__u64 pid_tgid;
	__u32 type;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ovs_kret_key);
	__type(value, struct ovs_inflight);
} ovs_inflight SEC(".maps");

/* Room for the keys and values the kernel programs pass to maps: chain()'s skb copy leaves
 * little stack. */
struct ovs_scratch {
	struct ovs_kret_key key;
	struct ovs_kret_key upcall_key;
	struct ovs_inflight in;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ovs_scratch);
} ovs_scratch SEC(".maps");

static __always_inline struct ovs_scratch *ovs_scratch_get(void)
{
	__u32 zero = 0;
	struct ovs_scratch *sc = bpf_map_lookup_elem(&ovs_scratch, &zero);

	if (sc)
		__builtin_memset(sc, 0, sizeof(*sc));
	return sc;
}

static __always_inline struct retrace_ovs *ovs_stash_begin(__u8 type)
{
	__u32 zero = 0;
	struct retrace_ovs *o = bpf_map_lookup_elem(&ovs_stash, &zero);

	if (o) {
		__builtin_memset(o, 0, sizeof(*o));
		o->type = type;
	}
	return o;
}

/* The datapath's name: its local port's device (port 0, first hash bucket). */
static __always_inline void ovs_dp_name(const struct datapath___ovs *dp, char *name)
{
	struct hlist_head *ports = BPF_CORE_READ(dp, ports);
	struct hlist_node *node;

	if (!ports)
		return;
	node = BPF_CORE_READ(ports, first);
	for (int i = 0; i < 4 && node; i++) {
		struct vport___ovs *v = (void *)node - bpf_core_field_offset(struct vport___ovs, dp_hash_node);

		if (BPF_CORE_READ(v, port_no) == 0) {
			struct net_device *dev = BPF_CORE_READ(v, dev);

			bpf_probe_read_kernel_str(name, 16, __builtin_preserve_access_index(&dev->name));
			return;
		}
		node = BPF_CORE_READ(node, next);
	}
}

static __always_inline __u64 ovs_kret_id(void)
{
	return bpf_get_current_pid_tgid();
}

/* The ovs programs' own work runs in subprograms of their own (noinline): chain()'s skb copy
 * and the spliced filter's frame leave no room in the program's frame for it. */

/* The upcall's ovs part, into the stash. */
static __noinline int ovs_fill_upcall(__u64 dpp, __u64 skbp, __u64 keyp, __u64 infop)
{
	const struct datapath___ovs *dp = (void *)dpp;
	const struct sw_flow_key___ovs *key = (void *)keyp;
	const struct dp_upcall_info___ovs *info = (void *)infop;
	struct retrace_ovs *o = ovs_stash_begin(OVS_UPCALL);

	if (!o)
		return -1;
	o->cmd = BPF_CORE_READ(info, cmd);
	o->port = BPF_CORE_READ(info, portid);
	o->cpu = bpf_get_smp_processor_id();
	o->in_port = BPF_CORE_READ(key, phy.in_port);
	o->recirc_id = BPF_CORE_READ(key, recirc_id);
	o->queue_id = ovs_skb_queue_id((struct sk_buff *)skbp);
	o->flags = OVS_F_QUEUE_ID | OVS_F_PORT;
	ovs_dp_name(dp, o->dp_name);
	return 0;
}

/* A followed packet's upcall (its record written at ts): ovs-vswitchd's events about it will be
 * reported, and the return probes of this thread know which upcall they end. */
static __noinline int ovs_upcall_followed(__u64 ts, __u64 skb)
{
	__u32 zero = 0;
	struct retrace_ovs *o = bpf_map_lookup_elem(&ovs_stash, &zero);
	struct ovs_scratch *sc = ovs_scratch_get();
	__u32 qid;

	if (!o || !sc)
		return 0;
	qid = o->queue_id;
	bpf_map_update_elem(&ovs_upcalls, &qid, &ts, BPF_ANY);
	sc->key.pid_tgid = ovs_kret_id();
	sc->key.type = OVS_UPCALL;
	sc->in.queue_id = qid;
	sc->in.upcall_cpu = o->cpu;
	sc->in.upcall_ts = ts;
	sc->in.has_upcall = 1;
	sc->in.skb = skb;
	bpf_map_update_elem(&ovs_inflight, &sc->key, &sc->in, BPF_ANY);
	return 0;
}

/* tp openvswitch:ovs_dp_upcall(dp, skb, key, upcall_info) */
SEC("retrace/raw_tp")
int ovs_upcall(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 skb = ARG(ctx, 1), ts;

	if (ovs_fill_upcall(ARG(ctx, 0), skb, ARG(ctx, 2), ARG(ctx, 3)))
		return 0;
	ts = chain_emit(ctx, probe_id_of(ctx), skb, 0);
	if (ts)
		ovs_upcall_followed(ts, skb);
	return 0;
}

/* The queue id of an execution ovs-vswitchd asked for, or 0: the first action on the skb looks
 * its packet up among the announced executions; later actions find the skb. */
static __always_inline __u32 ovs_exec_queue_id(struct sk_buff *skb)
{
	__u64 skbp = (__u64)skb;
	__u32 zero = 0, qid, *known = bpf_map_lookup_elem(&ovs_exec_skbs, &skbp);
	__s64 *pending = bpf_map_lookup_elem(&ovs_exec_pending, &zero);

	if (known)
		return *known;
	if (!pending || *pending <= 0)
		return 0;
	qid = ovs_skb_queue_id(skb);
	if (!bpf_map_lookup_elem(&ovs_execs, &qid))
		return 0;
	bpf_map_delete_elem(&ovs_execs, &qid);
	__sync_fetch_and_add(pending, -1);
	bpf_map_update_elem(&ovs_exec_skbs, &skbp, &qid, BPF_ANY);
	return qid;
}

/* The action's ovs part, into the stash. */
static __noinline int ovs_fill_action(__u64 dpp, __u64 skbp, __u64 keyp, __u64 attrp)
{
	const struct datapath___ovs *dp = (void *)dpp;
	const struct sw_flow_key___ovs *key = (void *)keyp;
	const struct nlattr *attr = (void *)attrp;
	struct retrace_ovs *o = ovs_stash_begin(OVS_ACTION_EXECUTE);

	if (!o)
		return -1;
	o->action = BPF_CORE_READ(attr, nla_type) & 0x3fff; /* without NLA_F_NESTED / NET_BYTEORDER */
	ovs_action_details(o, attr);
	o->in_port = BPF_CORE_READ(key, phy.in_port);
	o->recirc_id = BPF_CORE_READ(key, recirc_id);
	o->queue_id = ovs_exec_queue_id((struct sk_buff *)skbp);
	if (o->queue_id)
		o->flags |= OVS_F_QUEUE_ID;
	ovs_dp_name(dp, o->dp_name);
	return 0;
}

/* tp openvswitch:ovs_do_execute_action(dp, skb, key, attr, rem) */
SEC("retrace/raw_tp")
int ovs_action(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 skb = ARG(ctx, 1);

	if (!ovs_fill_action(ARG(ctx, 0), skb, ARG(ctx, 2), ARG(ctx, 3)))
		chain_emit(ctx, probe_id_of(ctx), skb, 0);
	return 0;
}

/* kprobe + kretprobe pair on ovs_dp_upcall or queue_userspace_packet (dp, skb, key, info, ..):
 * the return reports the result, with the upcall it belongs to. */
SEC("retrace/kprobe")
int ovs_kret_entry(struct pt_regs *ctx)
{
	const struct dp_upcall_info___ovs *info = (void *)REGS_ARG(ctx, __PT_PARM4_REG);
	struct ovs_scratch *sc = ovs_scratch_get();

	if (!sc)
		return 0;
	sc->key.pid_tgid = ovs_kret_id();
	sc->key.type = ovs_kret_type;
	sc->in.skb = REGS_ARG(ctx, __PT_PARM2_REG);
	sc->in.cmd = BPF_CORE_READ(info, cmd);
	sc->in.port = BPF_CORE_READ(info, portid);
	if (ovs_kret_type == OVS_UPCALL_ENQUEUE)
		sc->in.queue_id = ovs_skb_queue_id((struct sk_buff *)sc->in.skb);
	bpf_map_update_elem(&ovs_inflight, &sc->key, &sc->in, BPF_ANY);
	return 0;
}

/* The return's ovs part, into the stash; returns the skb to report it on (0: none): the entry's,
 * or for an enqueue, the packet that went up. */
static __noinline __u64 ovs_fill_return(__s64 ret)
{
	struct ovs_scratch *sc = ovs_scratch_get();
	struct ovs_inflight *in, *up;
	struct retrace_ovs *o;
	__u64 skb;

	if (!sc)
		return 0;
	sc->key.pid_tgid = ovs_kret_id();
	sc->key.type = ovs_kret_type;
	sc->upcall_key.pid_tgid = sc->key.pid_tgid;
	sc->upcall_key.type = OVS_UPCALL;
	in = bpf_map_lookup_elem(&ovs_inflight, &sc->key);
	up = bpf_map_lookup_elem(&ovs_inflight, &sc->upcall_key);
	if (!in)
		return 0;
	skb = in->skb;
	o = ovs_stash_begin(ovs_kret_type);
	if (!o) {
		bpf_map_delete_elem(&ovs_inflight, &sc->key);
		return 0;
	}
	o->ret = (__s32)ret;
	if (ovs_kret_type == OVS_UPCALL_ENQUEUE) {
		o->cmd = in->cmd;
		o->port = in->port;
		o->queue_id = in->queue_id;
		o->flags = OVS_F_QUEUE_ID | OVS_F_PORT;
	}
	if (up && up->has_upcall) {
		o->upcall_ts = up->upcall_ts;
		o->upcall_cpu = up->upcall_cpu;
		o->flags |= OVS_F_UPCALL;
		if (ovs_kret_type == OVS_UPCALL_ENQUEUE) {
			__u32 qid = in->queue_id;

			/* A GSO packet goes up as segments, each enqueued (and hashed) on its own:
			 * ovs-vswitchd's events about every segment are reported, and the enqueue
			 * is recorded on the packet that went up, so it stays in that series. */
			bpf_map_update_elem(&ovs_upcalls, &qid, &up->upcall_ts, BPF_ANY);
			if (up->skb)
				skb = up->skb;
		}
	}
	bpf_map_delete_elem(&ovs_inflight, &sc->key);
	/* ovs_dp_upcall's return ends the upcall on this thread. */
	if (ovs_kret_type == OVS_UPCALL_RETURN)
		bpf_map_delete_elem(&ovs_inflight, &sc->upcall_key);
	return skb;
}

SEC("retrace/kprobe")
int ovs_kret_return(struct pt_regs *ctx)
{
	__u64 skb = ovs_fill_return(PT_REGS_RC(ctx));

	if (skb)
		chain_emit(ctx, probe_id_of(ctx), skb, 0);
	return 0;
}

#endif
