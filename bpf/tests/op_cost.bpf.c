/* One program per basic operation of the packet path, each attached to the same tracepoint, so
 * that the kernel's BPF run-time statistics give the cost of each on this kernel (bpf/bench/
 * op_cost.c loads them; e2e/src/bench/bpf-cost.ts runs traffic and prints the table). Each
 * program does its operation once per hit and nothing else. */
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define RECORD_SIZE 456	/* about a base retrace record */
#define SNAPSHOT 232

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64[2]);
} percpu SEC(".maps");

struct value5 {
	__u64 v[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct value5);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct value5);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[512]);
} scratch SEC(".maps");

volatile __u64 sink;

#define SKB(ctx) ((struct sk_buff *)(ctx)->args[0])

SEC("raw_tp/netif_receive_skb")
int op_empty(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_array_lookup(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k = 3;
	__u32 *v = bpf_map_lookup_elem(&array, &k);

	if (v)
		sink = *v;
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_percpu_count(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k = 3;
	__u64 *v = bpf_map_lookup_elem(&percpu, &k);

	if (v)
		v[0]++;
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_skb_snapshot(struct bpf_raw_tracepoint_args *ctx)
{
	char buf[SNAPSHOT];

	bpf_probe_read_kernel(buf, sizeof(buf), SKB(ctx));
	sink = buf[100];
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_probe_read_8(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 v;

	bpf_probe_read_kernel(&v, sizeof(v), SKB(ctx));
	sink = v;
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_packet_copy_256(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = SKB(ctx);
	__u32 k = 0;
	char *buf = bpf_map_lookup_elem(&scratch, &k);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 mac = BPF_CORE_READ(skb, mac_header);

	if (buf)
		bpf_probe_read_kernel(buf, 256, head + mac);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_dev_name_str(struct bpf_raw_tracepoint_args *ctx)
{
	struct net_device *dev = BPF_CORE_READ(SKB(ctx), dev);
	char name[16];

	bpf_probe_read_kernel_str(name, sizeof(name), dev->name);
	sink = name[0];
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ktime(struct bpf_raw_tracepoint_args *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_task(struct bpf_raw_tracepoint_args *ctx)
{
	char comm[16];

	sink = bpf_get_current_pid_tgid();
	bpf_get_current_comm(comm, sizeof(comm));
	sink += comm[0] + bpf_get_smp_processor_id();
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_record(struct bpf_raw_tracepoint_args *ctx)
{
	char *e = bpf_ringbuf_reserve(&ring, RECORD_SIZE, 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, 64);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_query(struct bpf_raw_tracepoint_args *ctx)
{
	sink = bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_lru_lookup_miss(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 k = (__u64)SKB(ctx);

	sink = (__u64)bpf_map_lookup_elem(&lru, &k);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_lru_update_delete(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 k = (__u64)SKB(ctx);
	struct value5 v = { .v = { k } };

	bpf_map_update_elem(&lru, &k, &v, BPF_ANY);
	bpf_map_delete_elem(&lru, &k);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_hash_update_delete(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 k = (__u64)SKB(ctx);
	struct value5 v = { .v = { k } };

	bpf_map_update_elem(&hash, &k, &v, BPF_ANY);
	bpf_map_delete_elem(&hash, &k);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_core_read_5(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = SKB(ctx);

	sink = BPF_CORE_READ(skb, len) + BPF_CORE_READ(skb, mark) + BPF_CORE_READ(skb, hash) +
	       BPF_CORE_READ(skb, priority) + BPF_CORE_READ(skb, dev, ifindex);
	return 0;
}

/* tp_btf: the skb argument is a typed pointer; fields are plain loads the JIT guards, no helper. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(op_btf_direct_5, struct sk_buff *skb)
{
	sink = skb->len + skb->mark + skb->hash + skb->priority + skb->dev->ifindex;
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(op_btf_empty, struct sk_buff *skb)
{
	return 0;
}

extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym;

/* raw_tp with the skb cast to its kernel type (bpf_rdonly_cast, 6.2+): plain guarded loads. */
SEC("raw_tp/netif_receive_skb")
int op_cast_direct_5(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = bpf_rdonly_cast((void *)ctx->args[0], bpf_core_type_id_kernel(struct sk_buff));

	sink = skb->len + skb->mark + skb->hash + skb->priority + skb->dev->ifindex;
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} small_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_record_full(struct bpf_raw_tracepoint_args *ctx)
{
	char *e = bpf_ringbuf_reserve(&ring, RECORD_SIZE, 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, RECORD_SIZE);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_small_64(struct bpf_raw_tracepoint_args *ctx)
{
	char *e = bpf_ringbuf_reserve(&small_ring, 64, 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, 64);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_discard(struct bpf_raw_tracepoint_args *ctx)
{
	char *e = bpf_ringbuf_reserve(&small_ring, RECORD_SIZE, 0);

	if (e)
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_perf_output(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k = 0;
	char *buf = bpf_map_lookup_elem(&scratch, &k);

	if (buf)
		bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, buf, RECORD_SIZE);
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_task_btf(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	char comm[16];

	__builtin_memcpy(comm, t->comm, 16);
	sink = t->pid + t->tgid + comm[0];
	return 0;
}

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_output_copy(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k = 0;
	char *buf = bpf_map_lookup_elem(&scratch, &k);

	if (!buf)
		return 0;
	__builtin_memset(buf, 0, RECORD_SIZE);
	bpf_ringbuf_output(&ring, buf, RECORD_SIZE, BPF_RB_NO_WAKEUP);
	return 0;
}

/* A ring buffer per CPU (up to 2 here; the measured machine has 2): no lock or position shared
 * between the producing CPUs. */
struct ring_cpu {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
};
struct ring_cpu ring_cpu0 SEC(".maps");
struct ring_cpu ring_cpu1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct ring_cpu);
} rings SEC(".maps") = {
	.values = { &ring_cpu0, &ring_cpu1 },
};

SEC("raw_tp/netif_receive_skb")
int op_ringbuf_percpu_full(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&rings, &cpu);
	char *e;

	if (!ring)
		return 0;
	e = bpf_ringbuf_reserve(ring, RECORD_SIZE, 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, RECORD_SIZE);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} cfgs SEC(".maps");


SEC("raw_tp/netif_receive_skb")
int op_cookie(struct bpf_raw_tracepoint_args *ctx)
{
	sink = bpf_get_attach_cookie(ctx);
	return 0;
}

/* What every probe hit does before its filter: the probe id from the cookie, its config, the
 * skb argument cast to its type, the config's flags tested. */
SEC("raw_tp/netif_receive_skb")
int op_dispatch(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);
	__u32 *cfg = bpf_map_lookup_elem(&cfgs, &id);
	struct sk_buff *s;

	if (!cfg)
		return 0;
	s = bpf_rdonly_cast((void *)ctx->args[0], bpf_core_type_id_kernel(struct sk_buff));
	if (*cfg & 8)
		return 1;
	sink = s->len;
	return 0;
}
