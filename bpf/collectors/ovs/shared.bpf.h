/* What both sides of the ovs collector share: the queue id of an upcall, as both compute it
 * (Bob Jenkins' lookup3, the kernel's jhash, of the packet's first 64 bytes, zero-padded, seed 0;
 * agent/src/collectors/ovs/queue-id.ts computes the same), and the maps through which the kernel
 * side tells the userspace side which upcalls to report, and the other way round which
 * executions to name. */
#ifndef __RETRACE_OVS_SHARED_BPF_H
#define __RETRACE_OVS_SHARED_BPF_H

#include "compat.bpf.h"

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

#define OVS_HASH_BYTES 64

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[OVS_HASH_BYTES]);
} ovs_hashbuf SEC(".maps");

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

#endif
