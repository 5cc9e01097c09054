/* The nft collector's kernel half on kernels without kprobes: nftables sends a trace message
 * over netlink while it evaluates the rule; the moment it is queued to one of retrace's sockets
 * (sock:sk_data_ready, in the packet's own context) is copied with its time and CPU, so the
 * verdict can be placed exactly among the packet's other events. Included by probe.bpf.c. */
#ifndef __RETRACE_NFT_TRACE_BPF_H
#define __RETRACE_NFT_TRACE_BPF_H

#include "compat.bpf.h"
#include "event.h"

/* Cookies (SO_COOKIE) of retrace's NFNLGRP_NFTRACE sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} nft_sockets SEC(".maps");

static __always_inline int nft_msg_ready(struct sock *sk, struct bpf_map *rb)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	struct sk_buff_head *queue = &sk->sk_receive_queue;
	struct retrace_nft_msg *m;
	struct sk_buff *skb;
	unsigned char *data;
	__u32 len;
	__u64 n;

	if (!bpf_map_lookup_elem(&nft_sockets, &cookie))
		return 0;
	/* The message just queued is the queue's tail. */
	skb = BPF_CORE_READ(queue, prev);
	if (!skb || (void *)skb == (void *)queue)
		return 0;
	data = BPF_CORE_READ(skb, data);
	len = BPF_CORE_READ(skb, len);
	m = bpf_ringbuf_reserve(rb, sizeof(*m), 0);
	if (!m)
		return 0;
	m->version = RETRACE_EVENT_VERSION;
	m->size = sizeof(*m);
	m->probe_id = 0;
	m->present = SEC_NFT_MSG;
	m->cpu = bpf_get_smp_processor_id();
	m->timestamp = bpf_ktime_get_ns();
	m->netns_inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	m->msg_len = len;
	m->pad = 0;
	n = copy_bytes(m->msg, len, RETRACE_NFT_MSG_MAX, data);
	m->capture_len = n;
	bpf_ringbuf_submit(m, 0);
	return 0;
}

#endif
