/* The ovs collector. Kernel side: the openvswitch tracepoints (upcall, action execution) and,
 * where kprobes exist, the returns of ovs_dp_upcall and queue_userspace_packet. Userspace side
 * (--ovs-track): USDT probes in ovs-vswitchd's handler threads. Both sides name an upcall by its
 * queue id, a hash of the packet's first 64 bytes, so the packet can be followed from the
 * kernel into ovs-vswitchd and back to the execution it asks for. Included by probe.bpf.c after
 * chain_emit() and REGS_ARG. */
#ifndef __RETRACE_OVS_BPF_H
#define __RETRACE_OVS_BPF_H

#include <bpf/usdt.bpf.h>

/* Which return the ovs_kret_* pair reports (OVS_UPCALL_RETURN or OVS_UPCALL_ENQUEUE). */
const volatile __u8 ovs_kret_type = 0;
/* A packet filter runs: ovs-vswitchd events are reported only for upcalls of followed packets. */
const volatile bool ovs_filtered = false;

#define OVS_HASH_BYTES 64
#define OVS_BATCH_MAX 64	/* ovs-vswitchd reads at most 64 upcalls per batch (UPCALL_MAX_BATCH) */
#define OVS_ACTION_ATTR_OUTPUT 1

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[OVS_HASH_BYTES]);
} ovs_hashbuf SEC(".maps");

/* Queue ids of upcalls of followed packets (ovs-vswitchd events are reported for these). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} ovs_upcalls SEC(".maps");

/* Queue ids of packets ovs-vswitchd asked the kernel to execute, until the kernel does. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} ovs_execs SEC(".maps");

/* How many ovs_execs entries wait: the datapath hashes packets only while some do. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} ovs_exec_pending SEC(".maps");

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

static __always_inline __u32 rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

static __always_inline __u32 get_le32(const __u8 *p)
{
	return p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}

/* Bob Jenkins' lookup3 (the kernel's jhash) over exactly 64 bytes with seed 0. */
static __always_inline __u32 ovs_jhash64(const __u8 *k)
{
	__u32 a, b, c;

	a = b = c = 0xdeadbeef + OVS_HASH_BYTES;
#pragma unroll
	for (int i = 0; i < 60; i += 12) {
		a += get_le32(k + i);
		b += get_le32(k + i + 4);
		c += get_le32(k + i + 8);
		a -= c; a ^= rol32(c, 4); c += b;
		b -= a; b ^= rol32(a, 6); a += c;
		c -= b; c ^= rol32(b, 8); b += a;
		a -= c; a ^= rol32(c, 16); c += b;
		b -= a; b ^= rol32(a, 19); a += c;
		c -= b; c ^= rol32(b, 4); b += a;
	}
	a += get_le32(k + 60);
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The queue id of a packet: its first 64 bytes (zero-padded), from kernel or user memory. */
static __always_inline __u32 ovs_queue_id(const void *data, __u32 len, bool user)
{
	__u32 zero = 0;
	__u8 *buf = bpf_map_lookup_elem(&ovs_hashbuf, &zero);
	__u64 n = len < OVS_HASH_BYTES ? len : OVS_HASH_BYTES;

	if (!buf)
		return 0;
	__builtin_memset(buf, 0, OVS_HASH_BYTES);
	/* A 64-bit size checked right before the call: the verifier sees the bound on the very
	 * register passed (clang would otherwise check a zero-extended copy). */
	barrier_var(n);
	if (n > OVS_HASH_BYTES)
		return 0;
	if (user)
		bpf_probe_read_user(buf, n, data);
	else
		bpf_probe_read_kernel(buf, n, data);
	return ovs_jhash64(buf);
}

/* The datapath sees packets from the link-layer header on: skb->data, the linear part. */
static __always_inline __u32 ovs_skb_queue_id(const struct sk_buff *skb)
{
	__u32 len = BPF_CORE_READ(skb, len) - BPF_CORE_READ(skb, data_len);

	return ovs_queue_id(BPF_CORE_READ(skb, data), len, false);
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
static __noinline int ovs_upcall_followed(__u64 ts)
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
		ovs_upcall_followed(ts);
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
	if (o->action == OVS_ACTION_ATTR_OUTPUT) {
		bpf_probe_read_kernel(&o->port, sizeof(o->port), (void *)attr + sizeof(struct nlattr));
		o->flags |= OVS_F_PORT;
	}
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

/* The return's ovs part, into the stash; returns the skb the entry saw (0: none). */
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

/* A userspace record with an ovs part (USDT probes: no packet). */
static __always_inline struct retrace_event *ovs_user_event(struct pt_regs *ctx)
{
	struct retrace_event *e = user_event_begin(ctx, (__u32)bpf_usdt_cookie(ctx), sizeof(struct retrace_event));

	if (!e)
		return NULL;
	/* The ct and nft parts stay unread (present says so); the ovs part is cleared. */
	__builtin_memset(&e->ovs, 0, sizeof(e->ovs));
	e->present |= SEC_OVS;
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
	e->ovs.type = OVS_RECV_UPCALL;
	e->ovs.upcall_type = (__u32)type;
	e->ovs.pkt_size = (__u32)size;
	e->ovs.key_size = (__u64)key_size;
	e->ovs.queue_id = qid;
	e->ovs.batch_ts = b->ts;
	e->ovs.batch_idx = idx;
	e->ovs.flags = OVS_F_QUEUE_ID | OVS_F_BATCH;
	bpf_probe_read_user_str(e->ovs.dp_name, sizeof(e->ovs.dp_name), (void *)name);
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
	e->ovs.type = type;
	e->ovs.queue_id = qid;
	e->ovs.flags = OVS_F_QUEUE_ID;
	if (found) {
		e->ovs.batch_ts = b->ts;
		e->ovs.batch_idx = idx;
		e->ovs.flags |= OVS_F_BATCH;
	}
	if (type == OVS_FLOW_PUT) {
		const void *ufid = NULL;

		/* struct dpif_flow_put: the ufid pointer follows flags and three (pointer, length) pairs. */
		bpf_usdt_arg(ctx, 1, &arg);
		if (arg && !bpf_probe_read_user(&ufid, sizeof(ufid), (void *)arg + 56) && ufid &&
		    !bpf_probe_read_user(e->ovs.ufid, sizeof(e->ovs.ufid), ufid))
			e->ovs.flags |= OVS_F_UFID;
	} else {
		e->ovs.pkt_size = (__u32)size;
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
