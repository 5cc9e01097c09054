/* The ovs collector's userspace side (--ovs-track): USDT probes in ovs-vswitchd's handler
 * threads, each writing a userspace record with an ovs part. Upcalls are named by their queue id
 * (shared.bpf.h) so that they join the kernel side's events about the same packet. */
#ifndef __RETRACE_OVS_VSWITCHD_BPF_H
#define __RETRACE_OVS_VSWITCHD_BPF_H

#include "chain.bpf.h"
#include "collectors/ovs/shared.bpf.h"
#include <bpf/usdt.bpf.h>

/* A packet filter runs: ovs-vswitchd events are reported only for upcalls of followed packets. */
const volatile bool ovs_filtered = false;
#define OVS_BATCH_MAX 64	/* ovs-vswitchd reads at most 64 upcalls per batch (UPCALL_MAX_BATCH) */

/* A handler thread's current batch of upcalls, in the order it read them; its flow operations
 * come in the same order (a put, then an execute, per upcall; either may be missing). */
struct ovs_batch {
	__u64 ts;
	__u32 queue_ids[OVS_BATCH_MAX];
	__u8 n;
	__u8 cursor;		/* the upcall the next operation is about */
	__u8 operating;		/* operations began: the next read starts a new batch */
	__u8 put_seen;		/* the cursor's upcall had its put */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct ovs_batch);
} ovs_batches SEC(".maps");

/* A userspace record with an ovs part (USDT probes: no packet); the part is cleared. */
static __always_inline struct retrace_event *ovs_user_event(struct pt_regs *ctx)
{
	struct retrace_event *e = user_event_begin(ctx, (__u32)bpf_usdt_cookie(ctx), RETRACE_PART_END(ovs));

	if (!e)
		return NULL;
	/* Parts before this one stay unread (present says so). */
	__builtin_memset(RETRACE_PART(e, ovs), 0, sizeof(struct retrace_ovs));
	e->present |= SEC_PART(ovs);
	return e;
}

static __always_inline bool ovs_followed(__u32 queue_id)
{
	return !ovs_filtered || bpf_map_lookup_elem(&ovs_upcalls, &queue_id);
}

/* USDT dpif_recv:recv_upcall(dpif name, type, packet, packet size, key, key size) */
SEC("usdt")
int ovs_recv_upcall(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long name = 0, type = 0, data = 0, size = 0, key_size = 0;
	struct ovs_batch *b, fresh = {};
	struct retrace_event *e;
	struct retrace_ovs *o;
	__u32 qid;
	__u8 idx;

	bpf_usdt_arg(ctx, 0, &name);
	bpf_usdt_arg(ctx, 1, &type);
	bpf_usdt_arg(ctx, 2, &data);
	bpf_usdt_arg(ctx, 3, &size);
	bpf_usdt_arg(ctx, 5, &key_size);
	qid = ovs_queue_id((void *)data, (__u32)size, true);
	b = bpf_map_lookup_elem(&ovs_batches, &tid);
	if (!b) {
		bpf_map_update_elem(&ovs_batches, &tid, &fresh, BPF_ANY);
		b = bpf_map_lookup_elem(&ovs_batches, &tid);
		if (!b)
			return 0;
		b->operating = 1;
	}
	if (b->operating || b->n >= OVS_BATCH_MAX) {
		b->ts = bpf_ktime_get_ns();
		b->n = 0;
		b->cursor = 0;
		b->operating = 0;
		b->put_seen = 0;
	}
	idx = b->n;
	b->queue_ids[idx & (OVS_BATCH_MAX - 1)] = qid;
	b->n = idx + 1;
	if (!ovs_followed(qid))
		return 0;
	e = ovs_user_event(ctx);
	if (!e)
		return 0;
	o = RETRACE_PART(e, ovs);
	o->type = OVS_RECV_UPCALL;
	o->upcall_type = (__u32)type;
	o->pkt_size = (__u32)size;
	o->key_size = (__u64)key_size;
	o->queue_id = qid;
	o->batch_ts = b->ts;
	o->batch_idx = idx;
	o->flags = OVS_F_QUEUE_ID | OVS_F_BATCH;
	bpf_probe_read_user_str(o->dp_name, sizeof(o->dp_name), (void *)name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* A flow operation of the handler thread's batch: a put belongs to the upcall at the cursor
 * (the next one when the cursor's upcall had its put already); an execute names its packet. */
static __always_inline int ovs_flow_op(struct pt_regs *ctx, __u8 type)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ovs_batch *b = bpf_map_lookup_elem(&ovs_batches, &tid);
	struct retrace_event *e;
	struct retrace_ovs *o;
	long arg = 0, data = 0, size = 0;
	__u32 qid = 0;
	__u8 idx = 0;
	bool found = false;

	if (!b || !b->n)
		return 0;
	b->operating = 1;
	if (type == OVS_FLOW_PUT) {
		if (b->put_seen)
			b->cursor++;
		if (b->cursor >= b->n)
			return 0;
		idx = b->cursor;
		qid = b->queue_ids[idx & (OVS_BATCH_MAX - 1)];
		b->put_seen = 1;
		found = true;
	} else {
		bpf_usdt_arg(ctx, 2, &data);
		bpf_usdt_arg(ctx, 3, &size);
		qid = ovs_queue_id((void *)data, (__u32)size, true);
		for (int i = 0; i < OVS_BATCH_MAX; i++) {
			if (i >= b->n)
				break;
			if (i >= b->cursor && b->queue_ids[i] == qid) {
				idx = i;
				found = true;
				break;
			}
		}
		if (found) {
			b->cursor = idx + 1;
			b->put_seen = 0;
		}
	}
	if (!ovs_followed(qid))
		return 0;
	if (type == OVS_FLOW_EXEC) {
		__u32 zero = 0;
		__s64 *pending = bpf_map_lookup_elem(&ovs_exec_pending, &zero);
		__u64 now = bpf_ktime_get_ns();

		/* The kernel's execution of this packet will carry the queue id. */
		if (pending && !bpf_map_lookup_elem(&ovs_execs, &qid) &&
		    !bpf_map_update_elem(&ovs_execs, &qid, &now, BPF_NOEXIST))
			__sync_fetch_and_add(pending, 1);
	}
	e = ovs_user_event(ctx);
	if (!e)
		return 0;
	o = RETRACE_PART(e, ovs);
	o->type = type;
	o->queue_id = qid;
	o->flags = OVS_F_QUEUE_ID;
	if (found) {
		o->batch_ts = b->ts;
		o->batch_idx = idx;
		o->flags |= OVS_F_BATCH;
	}
	if (type == OVS_FLOW_PUT) {
		const void *ufid = NULL;

		/* struct dpif_flow_put: the ufid pointer follows flags and three (pointer, length) pairs. */
		bpf_usdt_arg(ctx, 1, &arg);
		if (arg && !bpf_probe_read_user(&ufid, sizeof(ufid), (void *)arg + 56) && ufid &&
		    !bpf_probe_read_user(o->ufid, sizeof(o->ufid), ufid))
			o->flags |= OVS_F_UFID;
	} else {
		o->pkt_size = (__u32)size;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* USDT dpif_netlink_operate__:op_flow_put(dpif, put, flow, request) */
SEC("usdt")
int ovs_flow_put(struct pt_regs *ctx)
{
	return ovs_flow_op(ctx, OVS_FLOW_PUT);
}

/* USDT dpif_netlink_operate__:op_flow_execute(dpif, execute, packet, packet size, request) */
SEC("usdt")
int ovs_flow_exec(struct pt_regs *ctx)
{
	return ovs_flow_op(ctx, OVS_FLOW_EXEC);
}

#endif
