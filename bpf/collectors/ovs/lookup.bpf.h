/* The flow_lookup event (kernels with kprobes): the datapath looked a packet's key up in its
 * flow table and found a flow. ovs_flow_tbl_lookup_stats has no skb argument, so the entry of
 * ovs_dp_process_packet (its only caller on the receive path) keeps the skb per thread, the
 * lookup's entry adds where its mask and cache hit counters go, and its return reports the
 * flow: its address, its actions' address, its ufid and both counters. */
#ifndef __RETRACE_OVS_LOOKUP_BPF_H
#define __RETRACE_OVS_LOOKUP_BPF_H

#include "chain.bpf.h"
#include "collectors/ovs/datapath.bpf.h"

struct sw_flow_id___ovs {
	__u32 ufid_len;
	union {
		__u32 ufid[4];
		void *unmasked_key;
	};
} __attribute__((preserve_access_index));

struct sw_flow___ovs {
	struct sw_flow_id___ovs id;
	void *sf_acts;
} __attribute__((preserve_access_index));

/* A thread's packet in the datapath, from ovs_dp_process_packet to the lookup's return. */
struct ovs_lookup_ctx {
	__u64 skb;
	__u64 n_mask_hit;	/* u32 * (the caller's counters) */
	__u64 n_cache_hit;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct ovs_lookup_ctx);
} ovs_lookups SEC(".maps");

/* kprobe ovs_dp_process_packet(skb, key) */
SEC("retrace/kprobe")
int ovs_process_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ovs_lookup_ctx c = { .skb = REGS_ARG(ctx, __PT_PARM1_REG) };

	bpf_map_update_elem(&ovs_lookups, &id, &c, BPF_ANY);
	return 0;
}

/* kprobe ovs_flow_tbl_lookup_stats(tbl, key, skb_hash, n_mask_hit, n_cache_hit) */
SEC("retrace/kprobe")
int ovs_lookup_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ovs_lookup_ctx *c = bpf_map_lookup_elem(&ovs_lookups, &id);

	if (!c)
		return 0;
	c->n_mask_hit = REGS_ARG(ctx, __PT_PARM4_REG);
	c->n_cache_hit = REGS_ARG(ctx, __PT_PARM5_REG);
	return 0;
}

/* The lookup's result into the stash; returns the packet's skb (0: no flow, nothing to say). */
static __noinline __u64 ovs_fill_lookup(__u64 flowp)
{
	__u64 id = bpf_get_current_pid_tgid(), skb;
	const struct sw_flow___ovs *flow = (void *)flowp;
	struct ovs_lookup_ctx *c = bpf_map_lookup_elem(&ovs_lookups, &id);
	struct retrace_ovs *o;

	if (!c)
		return 0;
	skb = c->skb;
	/* A miss (no flow) goes up to ovs-vswitchd: the upcall events tell that. */
	if (!flow || !skb)
		goto done;
	o = ovs_stash_begin(OVS_FLOW_LOOKUP);
	if (!o) {
		skb = 0;
		goto done;
	}
	o->flow = flowp;
	o->sf_acts = (__u64)BPF_CORE_READ(flow, sf_acts);
	/* A flow ovs-vswitchd installed without a ufid has its key there instead. */
	if (BPF_CORE_READ(flow, id.ufid_len) &&
	    !bpf_probe_read_kernel(o->ufid, sizeof(o->ufid), __builtin_preserve_access_index(&flow->id.ufid)))
		o->flags |= OVS_F_UFID;
	if (c->n_mask_hit)
		bpf_probe_read_kernel(&o->n_mask_hit, sizeof(o->n_mask_hit), (void *)c->n_mask_hit);
	if (c->n_cache_hit)
		bpf_probe_read_kernel(&o->n_cache_hit, sizeof(o->n_cache_hit), (void *)c->n_cache_hit);
done:
	bpf_map_delete_elem(&ovs_lookups, &id);
	return flow ? skb : 0;
}

/* kretprobe ovs_flow_tbl_lookup_stats */
SEC("retrace/kprobe")
int ovs_lookup_return(struct pt_regs *ctx)
{
	__u64 skb = ovs_fill_lookup(PT_REGS_RC(ctx));

	if (skb)
		chain_emit(ctx, probe_id_of(ctx), skb, 0);
	return 0;
}

#endif
