/* retrace's generic probe: every probe kind funnels into chain(), which tracks the skb, lets
 * each enabled collector fill its part of one fixed-layout record, and submits it. Collectors
 * are `const volatile` switches, so the verifier drops the code of disabled ones. */
#include "compat.bpf.h"
#include "event.h"
#include "filter.bpf.h"
#include "ct.bpf.h"
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

const volatile bool col_tracking = true;
const volatile bool col_drop = true;
const volatile bool col_skb = true;
const volatile bool col_packet = true;
const volatile bool col_dev = true;
const volatile bool col_ns = true;
const volatile bool col_ct = false;
/* This load is the __nft_trace_packet kprobe: records carry the nft part. */
const volatile bool col_nft_kprobe = false;
/* This load writes ovs parts (the per-target loads of the ovs kernel programs). */
const volatile bool col_ovs = false;
/* Probe id source: the attach cookie, or (kernels without cookies) one load per probe. */
const volatile bool use_cookie = true;
const volatile __u32 rodata_probe_id = 0;
/* Run the packet filter spliced into the placeholders (retrace collect -f). */
const volatile bool filter_packet = false;
/* Run the meta filter spliced into its placeholder (retrace collect -m). */
const volatile bool filter_meta = false;
/* Wake the consumer only once this much is waiting: a wake-up per record costs the producer an
 * irq_work each time; userspace also drains on a short timer. 0 wakes on every record. */
const volatile __u32 wakeup_bytes = 0;
/* Arguments of the fentry/fexit target (per-target loads). */
const volatile __u32 rodata_nargs = 0;
/* Namespace scoping (a namespaced trace): only packets in a network namespace of netns_allow
 * are reported or counted. */
const volatile bool filter_netns = false;

/* Room for the target kernel's struct sk_buff (224 bytes on 6.x). */
#define SKB_SNAPSHOT_MAX 232

RETRACE_BTF_TYPE(retrace_event);
RETRACE_BTF_TYPE(probe_config);
RETRACE_BTF_TYPE(probe_counters);
RETRACE_BTF_TYPE(retrace_ct);
RETRACE_BTF_TYPE(retrace_ct_conn);
RETRACE_BTF_TYPE(retrace_ct_tuple);
RETRACE_BTF_TYPE(retrace_nft_msg);
RETRACE_BTF_TYPE(retrace_nft);
RETRACE_BTF_TYPE(retrace_ovs);
RETRACE_BTF_ENUM(retrace_section);
RETRACE_BTF_ENUM(retrace_probe_flags);

/* The decision the __nft_trace_packet kprobe read, for chain() to copy into the record. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct retrace_nft);
} nft_stash SEC(".maps");

/* The ovs part the ovs programs prepared, for chain() to copy into the record. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct retrace_ovs);
} ovs_stash SEC(".maps");

/* Records end before the ct part unless the ct collector runs (a constant either way). */
#define RECORD_SIZE                                                                                        \
	(col_ovs	  ? sizeof(struct retrace_event)                                                   \
	 : col_nft_kprobe ? __builtin_offsetof(struct retrace_event, ovs)                                  \
	 : col_ct	  ? __builtin_offsetof(struct retrace_event, nft)                                  \
			  : __builtin_offsetof(struct retrace_event, ct))

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RETRACE_PROBES_MAX);
	__type(key, __u32);
	__type(value, struct probe_config);
} probe_configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RETRACE_PROBES_MAX);
	__type(key, __u32);
	__type(value, struct probe_counters);
} counters SEC(".maps");

struct track_info {
	__u64 orig_head;
	__u64 ts;
	__u64 last_seen;
	__u64 head;
	__u64 skb;	/* last skb seen with this head */
};
RETRACE_BTF_TYPE(track_info);

/* Tracking id by data buffer (clones share it) ... */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct track_info);
} tracking SEC(".maps");

/* ... and by skb, to re-key an skb whose head was reallocated (no kprobe on pskb_expand_head
 * needed: the skb is found under its old head's id the next time a probe sees it). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct track_info);
} skb_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

/* The network namespaces (inode numbers) a scoped trace may see (filter_netns); userspace
 * replaces them as pods come and go. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} netns_allow SEC(".maps");

/* Arguments saved at function entry for the matching return probe. */
struct kret_key {
	__u64 pid_tgid;
	__u32 probe_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kret_key);
	__type(value, __u64[2]);
} kret_args SEC(".maps");

static __always_inline __u64 wakeup_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 probe_id, bool lost)
{
	struct probe_counters *c = bpf_map_lookup_elem(&counters, &probe_id);

	if (!c)
		return;
	if (lost)
		c->lost++;
	else
		c->hits++;
}

static __always_inline bool track(struct sk_buff *skb, const struct sk_buff *s, struct retrace_event *e, __u8 flags,
				  __u64 now)
{
	__u64 head = (__u64)s->head;
	__u64 skbp = (__u64)skb;
	struct track_info *ti, *known, fresh = {};

	ti = bpf_map_lookup_elem(&tracking, &head);
	/* The same buffer under another skb that does not share it (not a clone): the buffer was
	 * freed where no probe saw it and reused for a new packet. */
	if (ti && ti->skb != skbp && !BPF_CORE_READ_BITFIELD(s, cloned)) {
		bpf_map_delete_elem(&tracking, &head);
		ti = NULL;
	}
	if (!ti) {
		ti = bpf_map_lookup_elem(&skb_ids, &skbp);
		if (ti && ti->head != head) {
			/* Same skb, new data buffer: keep its id under the new head. */
			fresh = *ti;
		} else {
			if (flags & PROBE_F_NO_CREATE)
				return false;
			fresh.orig_head = head;
			fresh.ts = now;
		}
		fresh.head = head;
		fresh.last_seen = now;
		fresh.skb = skbp;
		bpf_map_update_elem(&tracking, &head, &fresh, BPF_ANY);
		ti = &fresh;
	} else {
		ti->last_seen = now;
		ti->skb = skbp;
	}
	e->skb = skbp;
	e->orig_head = ti->orig_head;
	e->track_ts = ti->ts;
	e->present |= SEC_TRACKING;
	/* Remember the id under this skb too; in place when it is already there (no map update). */
	known = bpf_map_lookup_elem(&skb_ids, &skbp);
	if (known && known->orig_head == ti->orig_head && known->ts == ti->ts) {
		known->head = head;
		known->last_seen = now;
	} else {
		fresh = *ti;
		fresh.head = head;
		bpf_map_update_elem(&skb_ids, &skbp, &fresh, BPF_ANY);
	}
	return true;
}

/* A freeing point: the skb is gone; its head too when this was the last reference to it (not
 * cloned, or the last of the clones: the data reference count is 1). A head left behind would
 * give its id to the next packet that gets the same buffer. */
static __always_inline void untrack(struct sk_buff *skb, const struct sk_buff *s)
{
	unsigned char *headp = s->head;
	struct skb_shared_info *shinfo = (void *)(headp + s->end);
	__u64 head = (__u64)headp;
	__u64 skbp = (__u64)skb;

	if (!BPF_CORE_READ_BITFIELD(s, cloned) || (BPF_CORE_READ(shinfo, dataref.counter) & 0xffff) == 1)
		bpf_map_delete_elem(&tracking, &head);
	bpf_map_delete_elem(&skb_ids, &skbp);
}

/* skb_free_head (kprobe): the buffer itself is freed, whoever held it; the skb may live on with
 * a new buffer (pskb_expand_head), so its skb -> id entry stays to carry the id over. */
static __always_inline void forget_head(const struct sk_buff *s)
{
	__u64 head = (__u64)s->head;

	bpf_map_delete_elem(&tracking, &head);
}

static __always_inline void fill_dev_ns(const struct sk_buff *s, struct retrace_event *e)
{
	struct net_device *dev = s->dev;
	struct net *net = NULL;

	if (col_dev && dev) {
		bpf_probe_read_kernel_str(e->dev_name, sizeof(e->dev_name), dev->name);
		e->ifindex = BPF_CORE_READ(dev, ifindex);
		e->present |= SEC_DEV;
		e->rx_ifindex = s->skb_iif;
		if (e->rx_ifindex)
			e->present |= SEC_RX_IFINDEX;
	}
	if (!col_ns)
		return;
	if (dev)
		net = BPF_CORE_READ(dev, nd_net.net);
	if (!net) {
		struct sock *sk = s->sk;

		if (sk)
			net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	}
	if (!net)
		return;
	e->netns_inum = BPF_CORE_READ(net, ns.inum);
	e->present |= SEC_NETNS;
	if (bpf_core_field_exists(net->net_cookie)) {
		e->netns_cookie = BPF_CORE_READ(net, net_cookie);
		e->present |= SEC_NETNS_COOKIE;
	}
}

static __always_inline void fill_skb(const struct sk_buff *s, struct retrace_event *e)
{
	unsigned char *head = s->head;
	struct skb_shared_info *shinfo = (void *)(head + s->end);

	e->len = s->len;
	e->data_len = s->data_len;
	e->hash = s->hash;
	e->csum = s->csum;
	e->priority = s->priority;
	e->mark = s->mark;
	e->protocol = bpf_ntohs(s->protocol);
	e->users = s->users.refs.counter;
	e->ip_summed = BPF_CORE_READ_BITFIELD(s, ip_summed);
	e->csum_level = BPF_CORE_READ_BITFIELD(s, csum_level);
	e->nohdr = BPF_CORE_READ_BITFIELD(s, nohdr);
	e->cloned = BPF_CORE_READ_BITFIELD(s, cloned);
	e->fclone = BPF_CORE_READ_BITFIELD(s, fclone);
	e->dataref = BPF_CORE_READ(shinfo, dataref.counter);
	e->nr_frags = BPF_CORE_READ(shinfo, nr_frags);
	e->gso_size = BPF_CORE_READ(shinfo, gso_size);
	e->gso_segs = BPF_CORE_READ(shinfo, gso_segs);
	e->gso_type = BPF_CORE_READ(shinfo, gso_type);
	e->vlan_tci = s->vlan_tci;
	e->vlan_proto = bpf_ntohs(s->vlan_proto);
	if (e->vlan_proto)
		e->present |= SEC_VLAN;
	e->present |= SEC_SKB;
}

/* Copies up to max bytes; the clamp sits right before the helper so the verifier sees it. */
static __always_inline __u64 copy_bytes(void *dst, __u64 n, const __u64 max, const void *src)
{
	if (n > max)
		n = max;
	asm volatile("" : "+r"(n));
	if (n > max || n == 0)
		return 0;
	if (bpf_probe_read_kernel(dst, n, src))
		return 0;
	return n;
}

/* Linear packet bytes from the link-layer header, or a zeroed Ethernet header followed by the
 * network header when this point of the stack has no (valid) link layer. */
static __always_inline void fill_packet(const struct sk_buff *s, struct retrace_event *e)
{
	unsigned char *head = s->head;
	__u16 mac = s->mac_header;
	__u16 net = s->network_header;
	__u32 tail = s->tail;
	__u32 data_off = s->data - head;
	__u32 len = s->len;
	__u64 n;

	if (mac != (__u16)~0U && mac < net) {
		if (tail <= mac)
			return;
		n = copy_bytes(e->packet, tail - mac, RETRACE_PACKET_MAX, head + mac);
		if (!n)
			return;
		e->capture_len = n;
		/* Full length from the link layer; data_off > mac when headers were already pulled. */
		e->pkt_len = len + (data_off > mac ? data_off - mac : 0);
	} else if (net && net != (__u16)~0U) {
		__u16 proto = s->protocol;

		if (tail <= net)
			return;
		n = copy_bytes(e->packet + 14, tail - net, RETRACE_PACKET_MAX - 14, head + net);
		if (!n)
			return;
		/* 12 zero bytes of addresses, then the ethertype (already in network order) */
		__builtin_memset(e->packet, 0, 12);
		e->packet[12] = proto & 0xff;
		e->packet[13] = proto >> 8;
		e->capture_len = n + 14;
		e->pkt_len = len + (data_off > net ? data_off - net : 0) + 14;
		e->present |= SEC_FAKE_ETH;
	} else {
		return;
	}
	e->present |= SEC_PACKET;
}

/* Whether the packet is already followed (then filters no longer apply: it stays followed
 * through NAT, encapsulation and head reallocation even when its headers stop matching). */
static __always_inline bool tracked(const struct sk_buff *s, __u64 skbp)
{
	__u64 head = (__u64)s->head;

	return bpf_map_lookup_elem(&tracking, &head) || bpf_map_lookup_elem(&skb_ids, &skbp);
}

/* The spliced tcpdump filter, from the link-layer header when this point has one, else the L3
 * variant from the network header; no header, no match. */
static __always_inline bool packet_matches(const struct sk_buff *s)
{
	unsigned char *head = s->head;
	__u16 mac = s->mac_header;
	__u16 net = s->network_header;
	__u32 tail = s->tail;
	__u32 data_off = s->data - head;
	__u32 len = s->len;

	if (mac != (__u16)~0U && mac < net && tail > mac)
		return packet_filter_l2(head + mac, tail - mac, len + (data_off > mac ? data_off - mac : 0)) != 0;
	if (net && net != (__u16)~0U && tail > net)
		return packet_filter_l3(head + net, tail - net, len + (data_off > net ? data_off - net : 0)) != 0;
	return false;
}

/* Whether a packet is in a namespace of netns_allow: its device's, or its socket's while it has
 * no device (or the device's could not be read); a packet with neither is not. A subprogram of
 * its own (noinline), so its frame does not add to chain_emit's next to the spliced filters'. */
static __noinline int netns_allowed(__u64 dev, __u64 sk)
{
	__u32 inum = dev_netns_ino((const struct net_device *)dev);

	if (!inum && sk)
		inum = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_net.net, ns.inum);
	return inum && bpf_map_lookup_elem(&netns_allow, &inum);
}

/* Writes the record of one probe hit on an skb; returns its timestamp, or 0 when there is none
 * (not followed, filtered out, no room). */
static __always_inline __u64 chain_emit(void *ctx, __u32 probe_id, __u64 skb_ptr, __u64 reason)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	struct sk_buff *skb = (struct sk_buff *)skb_ptr;
	struct retrace_event *e;
	__u64 now;
	/* One copy of the sk_buff instead of a helper call per field: fields are then read from
	 * the copy at their CO-RE-relocated offsets. */
	union {
		struct sk_buff skb;
		char bytes[SKB_SNAPSHOT_MAX];
	} snap;
	const struct sk_buff *s = &snap.skb;
	__u32 snap_size = bpf_core_type_size(struct sk_buff);

	if (!cfg || !skb)
		return 0;
	if (snap_size > SKB_SNAPSHOT_MAX)
		snap_size = SKB_SNAPSHOT_MAX;
	if (bpf_probe_read_kernel(&snap, snap_size, skb))
		return 0;
	if (cfg->flags & PROBE_F_SILENT) {
		if (col_tracking && (cfg->flags & PROBE_F_FREE))
			untrack(skb, s);
		if (col_tracking && (cfg->flags & PROBE_F_FREE_HEAD))
			forget_head(s);
		return 0;
	}
	/* Out of scope: neither reported nor counted. A followed packet keeps its id (it may come
	 * back into scope), unless this is where it is freed. */
	if (filter_netns && !netns_allowed((__u64)s->dev, (__u64)s->sk)) {
		if (col_tracking && (cfg->flags & PROBE_F_FREE))
			untrack(skb, s);
		if (col_tracking && (cfg->flags & PROBE_F_FREE_HEAD))
			forget_head(s);
		return 0;
	}
	if ((filter_packet || filter_meta) && !(col_tracking && tracked(s, skb_ptr))) {
		if (filter_packet && !packet_matches(s))
			return 0;
		if (filter_meta && !meta_filter(skb))
			return 0;
	}
	count(probe_id, false);
	now = bpf_ktime_get_ns();
	e = bpf_ringbuf_reserve(&events, RECORD_SIZE, 0);
	if (!e) {
		count(probe_id, true);
		/* Loss is never silent, and a freed skb must still be forgotten. */
		if (col_tracking && (cfg->flags & PROBE_F_FREE))
			untrack(skb, s);
		if (col_tracking && (cfg->flags & PROBE_F_FREE_HEAD))
			forget_head(s);
		return 0;
	}
	e->version = RETRACE_EVENT_VERSION;
	e->size = RECORD_SIZE;
	e->probe_id = probe_id;
	e->present = 0;
	e->cpu = bpf_get_smp_processor_id();
	e->timestamp = now;
	e->pid = (__u32)bpf_get_current_pid_tgid();
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->stack_id = -1;
	e->capture_len = 0;

	if (col_tracking && !track(skb, s, e, cfg->flags, now)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	if (col_drop && cfg->reason_arg) {
		e->drop_reason = (__u32)reason;
		e->present |= SEC_DROP;
	} else if (col_drop && (cfg->flags & PROBE_F_DROP)) {
		e->present |= SEC_DROP_NO_REASON;
	}
	if (col_dev || col_ns)
		fill_dev_ns(s, e);
	if (col_skb)
		fill_skb(s, e);
	if (col_packet)
		fill_packet(s, e);
	if (col_ct)
		fill_ct(s, e);
	if (col_nft_kprobe) {
		__u32 zero = 0;
		struct retrace_nft *n = bpf_map_lookup_elem(&nft_stash, &zero);

		if (n) {
			__builtin_memcpy(&e->nft, n, sizeof(e->nft));
			e->present |= SEC_NFT;
		}
	}
	if (col_ovs) {
		__u32 zero = 0;
		struct retrace_ovs *o = bpf_map_lookup_elem(&ovs_stash, &zero);

		if (o && o->type) {
			__builtin_memcpy(&e->ovs, o, sizeof(e->ovs));
			o->type = 0;
			e->present |= SEC_OVS;
		}
	}
	if (cfg->flags & PROBE_F_STACK) {
		e->stack_id = bpf_get_stackid(ctx, &stacks, 0);
		if (e->stack_id >= 0)
			e->present |= SEC_STACK;
	}
	if (col_tracking && (cfg->flags & PROBE_F_FREE))
		untrack(skb, s);
	if (col_tracking && (cfg->flags & PROBE_F_FREE_HEAD))
		forget_head(s);
	bpf_ringbuf_submit(e, wakeup_flags());
	return now;
}

static __always_inline int chain(void *ctx, __u32 probe_id, __u64 skb_ptr, __u64 reason)
{
	chain_emit(ctx, probe_id, skb_ptr, reason);
	return 0;
}

/* Raw tracepoint arguments. A raw tracepoint program may only read as many arguments as the
 * tracepoint it is attached to has (the kernel checks at attach), so there is one program per
 * argument count and the switch below only keeps the cases below NARGS. */
/* A constant-offset load straight from the context pointer: clang would otherwise move the
 * offset into the pointer first, which the verifier refuses for context pointers. */
#define ARG(args, i)                                                                     \
	({                                                                               \
		__u64 __v;                                                               \
		asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(__v) : "r"(args), "i"((i) * 8)); \
		__v;                                                                     \
	})
static __always_inline __u64 arg_at(__u64 *args, __u32 i, const __u32 nargs)
{
	switch (i) {
	case 0: return nargs > 0 ? ARG(args, 0) : 0;
	case 1: return nargs > 1 ? ARG(args, 1) : 0;
	case 2: return nargs > 2 ? ARG(args, 2) : 0;
	case 3: return nargs > 3 ? ARG(args, 3) : 0;
	case 4: return nargs > 4 ? ARG(args, 4) : 0;
	case 5: return nargs > 5 ? ARG(args, 5) : 0;
	case 6: return nargs > 6 ? ARG(args, 6) : 0;
	case 7: return nargs > 7 ? ARG(args, 7) : 0;
	case 8: return nargs > 8 ? ARG(args, 8) : 0;
	case 9: return nargs > 9 ? ARG(args, 9) : 0;
	case 10: return nargs > 10 ? ARG(args, 10) : 0;
	case 11: return nargs > 11 ? ARG(args, 11) : 0;
	}
	return 0;
}

static __always_inline int from_args(void *ctx, __u64 *args, __u32 probe_id, const __u32 nargs)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	__u64 skb = 0, reason = 0;

	if (!cfg)
		return 0;
	if (cfg->skb_arg)
		skb = arg_at(args, cfg->skb_arg - 1, nargs);
	if (cfg->reason_arg)
		reason = arg_at(args, cfg->reason_arg - 1, nargs);
	return chain(ctx, probe_id, skb, reason);
}

static __always_inline __u32 probe_id_of(void *ctx)
{
	return use_cookie ? (__u32)bpf_get_attach_cookie(ctx) : rodata_probe_id;
}

#define RAW_TP_PROBE(n)                                                          \
	SEC("retrace/raw_tp")                                                    \
	int probe_raw_tp_##n(struct bpf_raw_tracepoint_args *ctx)                \
	{                                                                        \
		return from_args(ctx, (__u64 *)ctx->args, probe_id_of(ctx), n); \
	}

RAW_TP_PROBE(1)
RAW_TP_PROBE(2)
RAW_TP_PROBE(3)
RAW_TP_PROBE(4)
RAW_TP_PROBE(5)
RAW_TP_PROBE(6)
RAW_TP_PROBE(7)
RAW_TP_PROBE(8)
RAW_TP_PROBE(9)
RAW_TP_PROBE(10)
RAW_TP_PROBE(11)
RAW_TP_PROBE(12)

/* fentry/fexit: one load per target (the verifier types arguments against it). */
SEC("retrace/fentry")
int probe_fentry(__u64 *ctx)
{
	return from_args(ctx, ctx, rodata_probe_id, rodata_nargs);
}

SEC("retrace/fexit")
int probe_fexit(__u64 *ctx)
{
	return from_args(ctx, ctx, rodata_probe_id, rodata_nargs);
}

/* Register arguments, loaded at constant offsets straight from the context pointer (as ARG()
 * does: clang would otherwise add the offset to the pointer first, which the verifier refuses
 * for context pointers; found on Debian's 6.1 kernel in the qemu lab). */
#define REGS_ARG(ctx, reg)                                                                          \
	({                                                                                          \
		__u64 __v;                                                                          \
		asm volatile("%0 = *(u64 *)(%1 + %2)"                                               \
			     : "=r"(__v)                                                            \
			     : "r"(ctx), "i"(__builtin_offsetof(struct pt_regs, reg)));             \
		__v;                                                                                \
	})

static __always_inline __u64 regs_arg(struct pt_regs *ctx, __u32 i)
{
	switch (i) {
	case 0: return REGS_ARG(ctx, __PT_PARM1_REG);
	case 1: return REGS_ARG(ctx, __PT_PARM2_REG);
	case 2: return REGS_ARG(ctx, __PT_PARM3_REG);
	case 3: return REGS_ARG(ctx, __PT_PARM4_REG);
	case 4: return REGS_ARG(ctx, __PT_PARM5_REG);
	}
	return 0;
}

/* The skb and drop reason arguments a probe's config points at. */
static __always_inline void regs_skb_reason(struct pt_regs *ctx, const struct probe_config *cfg, __u64 *skb,
					    __u64 *reason)
{
	*skb = cfg->skb_arg ? regs_arg(ctx, cfg->skb_arg - 1) : 0;
	*reason = cfg->reason_arg ? regs_arg(ctx, cfg->reason_arg - 1) : 0;
}

static __always_inline int from_regs(struct pt_regs *ctx, __u32 probe_id)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	__u64 skb, reason;

	if (!cfg)
		return 0;
	regs_skb_reason(ctx, cfg, &skb, &reason);
	return chain(ctx, probe_id, skb, reason);
}

/* A userspace (USDT) record of `size` bytes, reserved and filled up to the optional parts (which
 * the caller adds and marks in present), or NULL when the ring is full (counted). */
static __always_inline struct retrace_event *user_event_begin(struct pt_regs *ctx, __u32 probe_id, __u32 size)
{
	struct retrace_event *e;

	count(probe_id, false);
	e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		count(probe_id, true);
		return NULL;
	}
	__builtin_memset(e, 0, __builtin_offsetof(struct retrace_event, ct));
	e->version = RETRACE_EVENT_VERSION;
	e->size = size;
	e->probe_id = probe_id;
	e->present = SEC_USERSPACE;
	e->cpu = bpf_get_smp_processor_id();
	e->timestamp = bpf_ktime_get_ns();
	e->pid = (__u32)bpf_get_current_pid_tgid();
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->ip = PT_REGS_IP(ctx);
	e->stack_id = -1;
	return e;
}

#include "nft_kprobe.bpf.h"
#include "ovs.bpf.h"

SEC("retrace/kprobe")
int probe_kprobe(struct pt_regs *ctx)
{
	return from_regs(ctx, probe_id_of(ctx));
}

/* Kernels with kprobes but not kprobe-multi: one program for every function instead of a load
 * each, the probe found by the function's address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * RETRACE_PROBES_MAX); /* functions of the same name share a probe */
	__type(key, __u64);
	__type(value, __u32);
} kprobe_ids SEC(".maps");

SEC("retrace/kprobe")
int probe_kprobe_ip(struct pt_regs *ctx)
{
	__u64 ip = bpf_get_func_ip(ctx);
	__u32 *id = bpf_map_lookup_elem(&kprobe_ids, &ip);

	/* With IBT the kprobe may sit after the function's ENDBR instruction. */
	if (!id) {
		ip -= 4;
		id = bpf_map_lookup_elem(&kprobe_ids, &ip);
	}
	return id ? from_regs(ctx, *id) : 0;
}

SEC("retrace/kprobe.multi")
int probe_kprobe_multi(struct pt_regs *ctx)
{
	return from_regs(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/* kretprobes: the entry half saves the arguments, the return half reports with them. */
static __always_inline int kret_save(struct pt_regs *ctx, __u32 probe_id)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	struct kret_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .probe_id = probe_id };
	__u64 vals[2] = {};

	if (!cfg)
		return 0;
	regs_skb_reason(ctx, cfg, &vals[0], &vals[1]);
	bpf_map_update_elem(&kret_args, &key, vals, BPF_ANY);
	return 0;
}

static __always_inline int kret_report(struct pt_regs *ctx, __u32 probe_id)
{
	struct kret_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .probe_id = probe_id };
	__u64 *vals = bpf_map_lookup_elem(&kret_args, &key);
	__u64 skb, reason;

	if (!vals)
		return 0;
	skb = vals[0];
	reason = vals[1];
	bpf_map_delete_elem(&kret_args, &key);
	return chain(ctx, probe_id, skb, reason);
}

SEC("retrace/kprobe")
int probe_kretprobe_entry(struct pt_regs *ctx)
{
	return kret_save(ctx, probe_id_of(ctx));
}

SEC("retrace/kprobe")
int probe_kretprobe(struct pt_regs *ctx)
{
	return kret_report(ctx, probe_id_of(ctx));
}

SEC("retrace/kprobe.multi")
int probe_kretprobe_multi_entry(struct pt_regs *ctx)
{
	return kret_save(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

SEC("retrace/kprobe.multi")
int probe_kretprobe_multi(struct pt_regs *ctx)
{
	return kret_report(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/* USDT probes given on the command line: a userspace event, no packet. */
SEC("usdt")
int probe_usdt(struct pt_regs *ctx)
{
	__u32 probe_id = (__u32)bpf_usdt_cookie(ctx);
	struct retrace_event *e;

	if (!bpf_map_lookup_elem(&probe_configs, &probe_id))
		return 0;
	e = user_event_begin(ctx, probe_id, RECORD_SIZE);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

#include "nft_trace.bpf.h"

/* sock:sk_data_ready: an nftables trace message reached one of retrace's sockets. */
SEC("raw_tp")
int nft_trace_ready(struct bpf_raw_tracepoint_args *ctx)
{
	return nft_msg_ready((struct sock *)ctx->args[0], (struct bpf_map *)&events);
}
